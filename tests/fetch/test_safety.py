"""Which addresses the fetcher refuses (unless a source sets allow_private): every special-purpose range
of IANA's registries, and IPv6 addresses that lead to one through an embedded IPv4 address."""

from __future__ import annotations

import ipaddress

import pytest

from flows.fetch.safety import is_public

pytestmark = pytest.mark.unit


def teredo(server: str, client: str) -> str:
    value = (0x20010000 << 96) | (int(ipaddress.IPv4Address(server)) << 64)
    return str(ipaddress.IPv6Address(value | (0xFFFFFFFF ^ int(ipaddress.IPv4Address(client)))))


@pytest.mark.parametrize(
    "address",
    [
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "127.0.0.1",
        "0.0.0.0",
        "100.64.0.1",  # carrier-grade NAT: where some clouds put their metadata service
        "100.100.100.200",
        "169.254.169.254",
        "192.0.0.1",
        "192.0.2.1",
        "198.18.0.1",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "ff02::1",
        "2001:db8::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::10.0.0.1",
        "2002:0a00:0001::1",  # 6to4 of 10.0.0.1
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "64:ff9b::10.0.0.1",  # NAT64
        "64:ff9b::100.64.0.1",
        "64:ff9b:1::a00:1",
        teredo("65.54.227.120", "10.0.0.1"),
        teredo("10.0.0.1", "8.8.8.8"),
        "fe80::1%eth0",
    ],
)
def test_special_purpose_addresses_are_refused(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "2606:4700::1111",
        "2a00:1450:4001:80b::200e",
        "::ffff:8.8.8.8",
        "2002:0808:0808::1",
        "64:ff9b::8.8.8.8",
        teredo("65.54.227.120", "8.8.4.4"),
    ],
)
def test_public_addresses_pass(address: str) -> None:
    assert is_public(address)


def test_the_fetcher_connects_to_the_address_it_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the name is resolved once, by the check, and the connection goes to that address
    with the name in the Host header. Here only the check can resolve `pinned.invalid` (to a local server
    it is told is public); a second resolution by the connection would fail (the name does not exist)."""
    import asyncio
    import functools
    import http.server
    import threading

    from flows.config import UrlsSource
    from flows.fetch import safety
    from flows.fetch.fetcher import Fetcher, Response

    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Host"))
            body = b"<html><body><p>pinned</p></body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port

    async def resolve_once(host: str, *args: object, **kwargs: object) -> list:
        assert host == "pinned.invalid"
        return [(2, 1, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(safety, "is_public", lambda address: address == "127.0.0.1")
    url = f"http://pinned.invalid:{port}/page.html"
    source = UrlsSource(name="t", kind="urls", urls=[url], retries=0)

    async def fetch() -> object:
        loop = asyncio.get_running_loop()
        monkeypatch.setattr(loop, "getaddrinfo", functools.partial(resolve_once))
        async with Fetcher(source) as fetcher:
            return await fetcher.get(url, check_robots=False)

    try:
        result = asyncio.run(fetch())
    finally:
        server.shutdown()
    assert isinstance(result, Response) and result.body.endswith(b"</html>"), result
    assert result.url == url
    assert seen == [f"pinned.invalid:{port}"]
