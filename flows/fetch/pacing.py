"""One request per `delay` seconds per host, however many tasks (threads) of a process fetch at once.

Each request reserves the next free slot of its host under a lock and then sleeps until it; slots are
`delay` apart, so the host sees request starts no closer than that.
"""

from __future__ import annotations

import asyncio
import threading
import time

_lock = threading.Lock()
_next_slot: dict[str, float] = {}


def reserve(host: str, delay: float) -> float:
    """The monotonic time at which this request may start; the following one waits `delay` longer."""
    with _lock:
        now = time.monotonic()
        slot = max(now, _next_slot.get(host, 0.0))
        _next_slot[host] = slot + delay
        return slot


async def wait_turn(host: str, delay: float) -> None:
    slot = reserve(host, delay)
    pause = slot - time.monotonic()
    if pause > 0:
        await asyncio.sleep(pause)


def host_key(url_host: str | None) -> str:
    return (url_host or "").lower()
