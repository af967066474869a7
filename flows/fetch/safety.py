"""Which URLs the fetcher may request: http(s) only, and no private, loopback or link-local hosts unless
a source allows them (a feed must not be able to make the pipeline probe the network it runs in)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit, urlunsplit

from flows.errors import Blocked

__all__ = ["Blocked", "check_url", "pinned"]


_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries: IPv4-mapped and -compatible, 6to4, Teredo (server and
    client), NAT64: each is where a packet to it may end up."""
    found = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if any(ip in network for network in _NAT64) or (int(ip) >> 32 == 0 and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_public(address: str) -> bool:
    """Whether an address is globally reachable by IANA's special-purpose registries (Python's
    `is_global`: private, shared 100.64.0.0/10, loopback, link-local, documentation, benchmarking,
    reserved and the like are not), and not multicast; an IPv6 address that embeds an IPv4 one is judged
    by the IPv4 address it leads to."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = embedded_ipv4(ip)
        if embedded:
            return all(is_public(str(v4)) for v4 in embedded)
    return ip.is_global and not ip.is_multicast


async def check_url(url: str, allow_private: bool) -> str | None:
    """Raise Blocked unless the URL is http(s) and (unless allowed) its host resolves to public addresses
    only; returns the address the request must connect to (None where private addresses are allowed:
    then the connection resolves the name itself). The fetcher connects to exactly that address (see
    pinned), so a rebinding DNS server cannot answer the connection differently from the check."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Blocked("bad_url", f"{url}: only http:// and https:// URLs are fetched")
    if allow_private:
        return None
    host = parts.hostname
    try:
        addresses = [str(ipaddress.ip_address(host))]  # an address already: nothing to resolve
    except ValueError:
        try:
            loop = asyncio.get_running_loop()
            infos = await loop.getaddrinfo(host, parts.port or 80, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise Blocked("dns_error", f"{url}: cannot resolve {host}: {exc.strerror}") from None
        addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise Blocked("dns_error", f"{url}: cannot resolve {host}: no address")
    for address in addresses:
        if not is_public(address):
            raise Blocked(
                "blocked_address",
                f"{url}: {host} resolves to the non-public address {address} (set allow_private = true "
                "on the source to allow it)",
            )
    return addresses[0]


def pinned(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """(URL to request, extra headers, httpx request extensions) that connect to `address` while the
    server sees the URL's own host: in the Host header and, over TLS, in SNI and certificate checks."""
    parts = urlsplit(url)
    if address is None or parts.hostname is None:
        return url, {}, {}
    host = f"[{address}]" if ":" in address else address
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    target = urlunsplit(parts._replace(netloc=netloc))
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    original = parts.netloc.rsplit("@", 1)[-1]
    return target, {"Host": original}, extensions
