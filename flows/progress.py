"""Progress reporting from tasks to whoever is watching (the CLI's progress bar), without coupling them.

Tasks call `report(...)`; the CLI installs a listener. With no listener (tests, a remote worker)
it is a no-op.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Listener(Protocol):
    def source_started(self, source: str, total_units: int) -> None: ...
    def pages_done(self, source: str, count: int) -> None: ...
    def unit_done(self, source: str) -> None: ...


_listener: Listener | None = None


def listen(listener: Listener | None) -> None:
    global _listener
    _listener = listener


def report(event: str, *args: object) -> None:
    if _listener is not None:
        handler: Callable[..., None] = getattr(_listener, event)
        handler(*args)
