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
    def source_started(self, source: str, total_units: int, total_pages: int | None) -> None:
        """A source was discovered: its units, and its pages when its listing says (web sources)."""

    def pages_fetched(self, source: str, count: int) -> None:
        """Pages fetched (or failed to fetch) by a web source, as each one comes."""

    def pages_done(self, source: str, count: int) -> None:
        """Pages extracted or turned down."""

    def unit_done(self, source: str) -> None:
        """A unit committed."""

    def note(self, message: str) -> None:
        """Long work that is not pages (a warehouse's dedup index built on its first run): a line to show."""


class Fraction:
    """How far a run is, as a share of its known work: for a source whose pages are known (web), each page
    counts twice (fetched, then extracted or turned down); for the others each unit counts once, when
    committed. Used for the Prefect progress artifact."""

    def __init__(self) -> None:
        self.total = 0
        self.done = 0
        self.by_page: set[str] = set()

    def source_started(self, source: str, total_units: int, total_pages: int | None) -> None:
        if total_pages is None:
            self.total += total_units
        else:
            self.by_page.add(source)
            self.total += 2 * total_pages

    def pages_fetched(self, source: str, count: int) -> None:
        if source in self.by_page:
            self.done += count

    def pages_done(self, source: str, count: int) -> None:
        if source in self.by_page:
            self.done += count

    def unit_done(self, source: str) -> None:
        if source not in self.by_page:
            self.done += 1

    def note(self, message: str) -> None:
        pass

    def percent(self) -> float:
        return 100.0 * min(self.done, self.total) / self.total if self.total else 0.0


_WATCHER: ContextVar[Listener | None] = ContextVar("corpus_progress_watcher", default=None)


@contextlib.contextmanager
def watching(listener: Listener) -> Iterator[None]:
    """Runs begun inside the block report their progress to `listener`."""
    token = _WATCHER.set(listener)
    try:
        yield
    finally:
        _WATCHER.reset(token)


def current() -> Listener | None:
    """The watcher installed for this context, if any."""
    return _WATCHER.get()


class Several:
    """Reports told to each of several listeners."""

    def __init__(self, *listeners: Listener | None) -> None:
        self.listeners = [listener for listener in listeners if listener is not None]

    def source_started(self, source: str, total_units: int, total_pages: int | None) -> None:
        for listener in self.listeners:
            listener.source_started(source, total_units, total_pages)

    def pages_fetched(self, source: str, count: int) -> None:
        for listener in self.listeners:
            listener.pages_fetched(source, count)

    def pages_done(self, source: str, count: int) -> None:
        for listener in self.listeners:
            listener.pages_done(source, count)

    def unit_done(self, source: str) -> None:
        for listener in self.listeners:
            listener.unit_done(source)

    def note(self, message: str) -> None:
        for listener in self.listeners:
            listener.note(message)


class Progress:
    """A run's reports: to the watcher of the context the run began in, if any."""

    def __init__(self, listener: Listener | None = None) -> None:
        self.listener = listener

    @classmethod
    def of_context(cls) -> Progress:
        return cls(_WATCHER.get())

    def source_started(self, source: str, total_units: int, total_pages: int | None = None) -> None:
        if self.listener is not None:
            self.listener.source_started(source, total_units, total_pages)

    def pages_fetched(self, source: str, count: int) -> None:
        if self.listener is not None and count:
            self.listener.pages_fetched(source, count)

    def pages_done(self, source: str, count: int) -> None:
        if self.listener is not None and count:
            self.listener.pages_done(source, count)

    def unit_done(self, source: str) -> None:
        if self.listener is not None:
            self.listener.unit_done(source)

    def note(self, message: str) -> None:
        if self.listener is not None:
            self.listener.note(message)
