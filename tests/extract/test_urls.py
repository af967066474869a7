"""Registered domains (site_of), looked up once per host."""

from __future__ import annotations

from urllib.parse import urlsplit

import courlan
import pytest

from flows.extract.urls import choose_canonical, site_of

pytestmark = pytest.mark.unit

URLS = [
    "https://news.example.co.uk/a/b?c=1",
    "http://www.bbc.co.uk/",
    "https://user:pw@News.Test:8443/x",
    "http://127.0.0.1:8000/p",
    "http://localhost/x",
    "https://www.asia-sentinel.example/2025/07/x.html",
    "https://xn--bcher-kva.de/p",
    "https://a.b.c.github.io/x",
    "http://[::1]:80/x",
    "https://blog.example.internal/p",
    "https://foo.com?x#frag",
    "https://sub.domain.gov.au/x/y",
    "https://bücher.de/x",
]


def _whole_url(url: str) -> str | None:
    """What site_of gave before it looked hosts up once: the lookup on the whole URL."""
    domain = courlan.extract_domain(url)
    if domain:
        return domain
    host = (urlsplit(url).hostname or "").lower()
    return ".".join(host.split(".")[-2:]) or None


@pytest.mark.parametrize("url", URLS)
def test_site_of_depends_on_the_host_alone(url: str) -> None:
    assert site_of(url) == _whole_url(url)
    assert site_of(url + "/deeper/page.html?q=1") == site_of(url.split("?")[0])


def test_canonical_link_adopted_on_the_same_site_only() -> None:
    assert (
        choose_canonical("https://www.news.test/a?utm_source=x", "https://news.test/a")
        == "https://news.test/a"
    )
    assert (
        choose_canonical("https://news.example.co.uk/a", "https://other.co.uk/a")
        == "https://news.example.co.uk/a"
    )
