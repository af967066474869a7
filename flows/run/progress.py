"""Progress of a run for whoever watches it (the CLI's bars), without coupling the two.

A watcher is installed for a block of code (`watching(listener)`) in a context variable, not a module
global: a run takes the watcher of the context that begins it and reports through its own `Progress`
from then on, so two runs in one process never report to each other's watcher. Nothing watching (a
test, a scheduled run, a cluster worker): the reports go nowhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Protocol


class Listener(Protocol):
    def source_started(self, source: str, total_units: int) -> None: ...
    def pages_done(self, source: str, count: int) -> None: ...
    def unit_done(self, source: str) -> None: ...


_WATCHER: ContextVar[Listener | None] = ContextVar("corpus_progress_watcher", default=None)


@contextlib.contextmanager
def watching(listener: Listener) -> Iterator[None]:
    """Runs begun inside the block report their progress to `listener`."""
    token = _WATCHER.set(listener)
    try:
        yield
    finally:
        _WATCHER.reset(token)


class Progress:
    """A run's reports: to the watcher of the context the run began in, if any."""

    def __init__(self, listener: Listener | None = None) -> None:
        self.listener = listener

    @classmethod
    def of_context(cls) -> Progress:
        return cls(_WATCHER.get())

    def source_started(self, source: str, total_units: int) -> None:
        if self.listener is not None:
            self.listener.source_started(source, total_units)

    def pages_done(self, source: str, count: int) -> None:
        if self.listener is not None and count:
            self.listener.pages_done(source, count)

    def unit_done(self, source: str) -> None:
        if self.listener is not None:
            self.listener.unit_done(source)
