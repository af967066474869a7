"""robots.txt: fetched once per host per run (shared by every task of the run in this process), obeyed for
every page. The rules live in a `RobotsCache` that the run creates (flows/fetch/__init__.py Politeness).

Following RFC 9309: a 4xx robots.txt (none there) allows everything; a 5xx or an unreachable host disallows
everything for this run. Crawl-delay raises the source's own delay, capped at MAX_CRAWL_DELAY.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from flows.config import MAX_CRAWL_DELAY


@dataclass(frozen=True)
class Rules:
    parser: Protego | None  # None: everything allowed
    disallow_all: str | None = None  # why everything is disallowed (robots.txt unreachable)
    unreachable: str | None = None  # the host could not be reached at all: the reason (connect_error...)

    def allows(self, url: str, user_agent: str) -> bool:
        if self.disallow_all is not None:
            return False
        return self.parser is None or self.parser.can_fetch(url, user_agent)

    def crawl_delay(self, user_agent: str) -> float:
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(user_agent)
        return min(float(delay), MAX_CRAWL_DELAY) if delay else 0.0


ALLOW_ALL = Rules(None)


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


class Unreachable(OSError):
    """robots.txt could not be fetched because the host could not be reached (not an HTTP answer)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# Fetches robots.txt: returns (status, body) or raises OSError-like errors for an unreachable host.
FetchRobots = Callable[[str], Awaitable[tuple[int, bytes]]]


class RobotsCache:
    """The rules of each origin (scheme://host:port) for one run, as futures shared by the threads (and
    their event loops) that want them: each robots.txt is fetched once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: dict[str, concurrent.futures.Future[Rules]] = {}

    async def rules_for(self, url: str, fetch: FetchRobots) -> Rules:
        origin = origin_of(url)
        with self._lock:
            future = self._rules.get(origin)
            owner = future is None
            if owner:
                future = self._rules[origin] = concurrent.futures.Future()
        assert future is not None
        if not owner:
            return await asyncio.wrap_future(future)
        try:
            rules = await _load(origin, fetch)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        future.set_result(rules)
        return rules


async def _load(origin: str, fetch: FetchRobots) -> Rules:
    try:
        status, body = await fetch(f"{origin}/robots.txt")
    except Exception as exc:  # unreachable: RFC 9309 says assume complete disallow
        reason = exc.reason if isinstance(exc, Unreachable) else None
        return Rules(None, disallow_all=f"robots.txt unreachable: {exc}", unreachable=reason)
    if 400 <= status < 500:
        return ALLOW_ALL
    if status >= 500:
        return Rules(None, disallow_all=f"robots.txt answered HTTP {status}")
    if status != 200:
        return ALLOW_ALL
    return Rules(Protego.parse(body.decode("utf-8", errors="replace")))
