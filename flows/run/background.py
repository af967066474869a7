"""Work a run keeps up to date in a thread of its own while the workers extract: the search index
(each commit's documents indexed while the next pages are extracted; SQLite works without Python's lock)
and the DuckDB catalog (built once the run's first files exist, rather than after its last page)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class BackgroundRefresh:
    """Runs `action` in a thread of its own each time it is requested; requests that arrive while it runs
    are folded into one more run. A failure is kept in `error` for the caller, who repeats the action
    after `close` (so a failed refresh is repaired, and never fails the run by itself). With `interval`,
    runs are at least that many seconds apart, the first one too after the refresher was created: a run
    shorter than that leaves the action to its end. With `share`, the wait after a run is also at least its
    own duration divided by `share`: an action that grows with the warehouse (the catalog names every
    file: 14 s at 4,000 files) takes at most that share of the run's time, however large the warehouse."""

    def __init__(
        self, action: Callable[[], object], name: str, interval: float = 0.0, share: float = 1.0
    ) -> None:
        self.action = action
        self.error: Exception | None = None
        self.interval = interval
        self.share = share
        self._next = time.monotonic() + interval
        self._wanted = threading.Event()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            if self._closed.wait(max(0.0, self._next - time.monotonic())):
                return
            self._wanted.clear()
            started = time.monotonic()
            try:
                self.action()
            except Exception as exc:
                self.error = exc
            took = time.monotonic() - started
            self._next = time.monotonic() + max(self.interval, took / self.share)

    def close(self) -> None:
        """Wait for the run in progress; requests not started yet are dropped."""
        self._closed.set()
        self._wanted.set()
        self._thread.join()
