"""Which URLs the fetcher may request: well-formed http(s) URLs only (url_problem: the one check, for listed
URLs and every redirect target alike), and no private, loopback or link-local hosts unless a source
allows them (a feed must not be able to make the pipeline probe the network it runs in)."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import urlsplit, urlunsplit

import httpx

from flows.config import MAX_URL_CHARS
from flows.errors import Blocked

__all__ = ["Blocked", "check_url", "pinned", "url_problem"]


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


def url_problem(url: str) -> str | None:
    """What makes a URL one the fetcher cannot request (None: nothing). Checked before anything parses it
    further (robots.txt's origin, pacing's host, the HTTP client), so a malformed URL is a `bad_url` reject
    of its own, never an exception in the middle of a batch: a scheme other than http(s), no host, a port
    out of range, a host name with an empty or over-long label (IDNA: 63 characters a label, 253 in all),
    white space or control characters, a URL longer than MAX_URL_CHARS, anything the HTTP client refuses."""
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    if any(ord(c) < 33 or c == "\x7f" for c in url):
        return "white space or control characters in the URL"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a URL: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return "only http:// and https:// URLs are fetched"
    host = parts.hostname
    if not host:
        return "no host"
    if port == 0:
        return "port 0"
    if not host.startswith("[") and ":" not in host and not _is_address(host):
        problem = _host_name_problem(host)
        if problem:
            return problem
    try:
        httpx.URL(url)
    except (httpx.InvalidURL, ValueError, UnicodeError) as exc:
        return f"not a URL: {exc}"
    return None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


_HOST_CHARACTERS = re.compile(rb"[A-Za-z0-9._-]+")  # once IDNA-encoded (underscores: seen in real names)


def _host_name_problem(host: str) -> str | None:
    name = host[:-1] if host.endswith(".") else host  # a trailing dot: the root, a fully qualified name
    try:
        ascii_name = name.encode("idna")
    except UnicodeError as exc:
        return f"bad host name {host[:80]!r}: {exc}"
    if len(ascii_name) > 253:
        return f"host name longer than 253 characters: {host[:80]!r}..."
    if not _HOST_CHARACTERS.fullmatch(ascii_name):
        return f"bad host name {host[:80]!r}: characters a host name cannot have"
    labels = ascii_name.split(b".")
    if any(not label or len(label) > 63 for label in labels):
        return f"bad host name {host[:80]!r}: an empty label, or one longer than 63 characters"
    if any(label.startswith(b"xn--") and not _punycode(label) for label in labels):
        return f"bad host name {host[:80]!r}: a label that is not valid punycode"
    return None


def _punycode(label: bytes) -> bool:
    try:
        label.decode("idna")
    except UnicodeError:
        return False
    return True


async def check_url(url: str, allow_private: bool) -> str | None:
    """Raise Blocked unless the URL is well formed (url_problem), http(s), and (unless allowed) its host
    resolves to public addresses only; returns the address the request must connect to (None where
    private addresses are allowed: then the connection resolves the name itself). The fetcher connects to
    exactly that address (see pinned), so a rebinding DNS server cannot answer the connection differently
    from the check."""
    problem = url_problem(url)
    if problem is not None:
        raise Blocked("bad_url", f"{url[:300]}: {problem}")
    parts = urlsplit(url)
    if allow_private:
        return None
    host = parts.hostname
    assert host is not None  # url_problem: no host is a problem
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
