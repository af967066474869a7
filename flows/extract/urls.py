"""URL canonicalisation: one spelling per page, so the same page read twice is recognised."""

from __future__ import annotations

import functools
from urllib.parse import urlsplit, urlunsplit

import courlan


def canonical_url(url: str) -> str:
    """Lowercase scheme and host, default port dropped, tracking parameters stripped, query sorted,
    fragment removed (courlan's normalisation). URLs courlan cannot parse are returned trimmed."""
    url = url.strip()
    if not url.lower().startswith(("http://", "https://")):
        return url
    try:
        normalised = courlan.normalize_url(url, strict=False)
    except ValueError:
        return url
    parts = urlsplit(normalised)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


def site_of(url: str) -> str | None:
    """The registered domain (news.example.co.uk → example.co.uk); for suffixes courlan does not know
    (.example, .internal), the last two labels of the host."""
    try:
        parts = urlsplit(url)
    except ValueError:  # "http://[" and the like: no site
        return None
    return _site_of_host(parts.scheme, parts.netloc)


@functools.lru_cache(maxsize=4096)
def _site_of_host(scheme: str, netloc: str) -> str | None:
    """site_of for one host: the public-suffix lookup takes ~0.3 ms, and pages come by the thousand from
    a few hosts. Only the scheme and host of a URL matter to it."""
    url = f"{scheme}://{netloc}/"
    domain = courlan.extract_domain(url)
    if domain:
        return domain
    host = (urlsplit(url).hostname or "").lower()
    return ".".join(host.split(".")[-2:]) or None


def same_site(a: str, b: str) -> bool:
    """True when both URLs belong to one registered domain (www.example.org ~ news.example.org)."""
    site_a = site_of(a)
    return site_a is not None and site_a == site_of(b)


def choose_canonical(fetched_url: str, declared_url: str | None) -> str:
    """The page's own canonical (<link rel=canonical> or og:url) when it is on the fetched page's site;
    for a local file (file:// URL) an http(s) canonical is the best name the page has."""
    fetched = canonical_url(fetched_url)
    if not declared_url or not declared_url.lower().startswith(("http://", "https://")):
        return fetched
    declared = canonical_url(declared_url)
    if fetched.startswith("file:") or same_site(fetched, declared):
        return declared
    return fetched
