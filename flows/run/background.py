"""Work a run keeps up to date in a thread of its own while the workers extract: the search index
(each commit's documents indexed while the next pages are extracted; SQLite works without Python's lock)
and the DuckDB catalog (built once the run's first files exist, rather than after its last page)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundRefresh:
    """Runs `action` in a thread of its own each time it is requested; requests that arrive while it runs
    are folded into one more run. A failure is kept in `error` for the caller, who repeats the action
    after `close` (so a failed refresh is repaired, and never fails the run by itself)."""

    def __init__(self, action: Callable[[], object], name: str) -> None:
        self.action = action
        self.error: Exception | None = None
        self._wanted = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def request(self) -> None:
        self._wanted.set()

    def _loop(self) -> None:
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._closing:
                return
            try:
                self.action()
            except Exception as exc:
                self.error = exc

    def close(self) -> None:
        """Wait for the run in progress; requests not started yet are dropped."""
        self._closing = True
        self._wanted.set()
        self._thread.join()
