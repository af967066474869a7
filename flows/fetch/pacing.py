"""One request per `delay` seconds per host, however many tasks (threads) of a run fetch at once.

Each request reserves the next free slot of its host under a lock and then sleeps until it; slots are
`delay` apart, so the host sees request starts no closer than that. The slots belong to a `Pacer`, which
a run creates and hands to every fetcher it starts (flows/fetch/__init__.py Politeness): two runs in one
process keep their own pace.
"""

from __future__ import annotations

import asyncio
import threading
import time


class Pacer:
    """The next free request slot of each host, for one run (or one `corpus sources add`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_slot: dict[str, float] = {}

    def reserve(self, host: str, delay: float) -> float:
        """The monotonic time at which this request may start; the following one waits `delay` longer."""
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, 0.0))
            self._next_slot[host] = slot + delay
            return slot

    async def wait_turn(self, host: str, delay: float) -> None:
        pause = self.reserve(host, delay) - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)


def host_key(url_host: str | None) -> str:
    return (url_host or "").lower()
