"""Which URLs the fetcher may request: http(s) only, and no private, loopback or link-local hosts unless
a source allows them (a feed must not be able to make the pipeline probe the network it runs in)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from flows.errors import Blocked

__all__ = ["Blocked", "check_url"]


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def check_url(url: str, allow_private: bool) -> None:
    """Raise Blocked unless the URL is http(s) and (unless allowed) its host resolves to public addresses
    only. The check resolves the name itself; the connection resolves it again (a rebinding DNS server
    could still answer differently: run the pipeline where private networks are firewalled if that is a
    concern)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Blocked("bad_url", f"{url}: only http:// and https:// URLs are fetched")
    if allow_private:
        return
    host = parts.hostname
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 80, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Blocked("dns_error", f"{url}: cannot resolve {host}: {exc.strerror}") from None
    for info in infos:
        address = str(info[4][0])
        if not _is_public(address):
            raise Blocked(
                "blocked_address",
                f"{url}: {host} resolves to the non-public address {address} (set allow_private = true "
                "on the source to allow it)",
            )
