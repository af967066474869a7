"""Fetching pages from the web, politely: safety → robots.txt → per-host pacing → HTTP with retries →
raw WARC archive, with per-URL state for conditional re-fetching. Knows nothing of sources: what to fetch
(feeds, sitemaps, URL lists) is decided in flows/sources.

    safety.py    which URLs may be fetched at all (scheme, private addresses)
    robots.py    robots.txt, once per host per run
    pacing.py    one request per `delay` per host, across threads
    fetcher.py   one URL → a response or a reject reason (redirects, retries, size cap)
    archive.py   responses → WARC.gz files, rotated by size
    crawl.py     a batch of URLs through all of the above, with the last fetch state of each URL
    aio.py       running the coroutines from synchronous code
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flows.fetch.pacing import Pacer
from flows.fetch.robots import RobotsCache


@dataclass(frozen=True)
class Politeness:
    """What the fetchers of one run share: each host's pace and robots.txt rules. A run creates one (on a
    cluster, each worker one per run) and passes it to every fetcher it starts, so two runs in one process
    never wait for each other's slots nor read each other's robots.txt."""

    pacer: Pacer = field(default_factory=Pacer)
    robots: RobotsCache = field(default_factory=RobotsCache)


__all__ = ["Politeness"]
