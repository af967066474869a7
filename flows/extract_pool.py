"""Extraction over all cores, with a per-page time limit that a stuck page cannot escape.

Each worker process has its own inbox (a queue fed by a background thread, so sending a large page never
blocks the parent) and its own result pipe. A page that exceeds the time limit is first interrupted inside
the worker (SIGALRM → a BaseException trafilatura cannot swallow); if the worker is stuck in C code and
does not answer within a grace period, the parent kills it, rejects the page as `extract_timeout`,
starts a fresh worker and re-sends the pages that were queued behind it. A worker that dies (segfault,
out of memory) is handled the same way, with the reason `extract_crash`.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait

from flows.documents import Extracted, Page
from flows.extract import ExtractOptions, extract_page, reject

PREFETCH = 3  # pages queued per worker: enough to hide the round trip, small enough to bound memory


class _PageTimeout(BaseException):
    """Raised by SIGALRM inside a worker; a BaseException so that `except Exception` cannot catch it."""


def _on_alarm(_signum: int, _frame: object) -> None:
    raise _PageTimeout


def _worker_main(
    inbox: multiprocessing.Queue, results: Connection, options: ExtractOptions, limit: float
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGALRM, _on_alarm)
    while True:
        page = inbox.get()
        if page is None:
            return
        try:
            signal.setitimer(signal.ITIMER_REAL, limit)
            try:
                outcome = extract_page(page, options)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _PageTimeout:
            outcome = reject(page, "extract_timeout", f"extraction took longer than {limit:g} s")
        except Exception as exc:  # a bug or a parser failure on one page must not end the run
            outcome = reject(page, "extract_error", f"{type(exc).__name__}: {exc}")
        results.send(outcome)


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    inbox: multiprocessing.Queue
    results: Connection
    inflight: deque[Page] = field(default_factory=deque)
    started: float = 0.0  # when the worker began its current page (the oldest in flight)


class ExtractPool:
    """A fixed set of extraction processes; `map` streams pages through them, results in completion order."""

    def __init__(self, processes: int, options: ExtractOptions, timeout: float) -> None:
        self.processes = processes or os.cpu_count() or 1
        self.options = options
        self.timeout = timeout
        self.hard_limit = timeout + max(2.0, timeout * 0.25)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["flows.extract_preload"])
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    def _start_worker(self) -> _Worker:
        inbox = self._context.Queue()
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_worker_main,
            args=(inbox, sender, self.options, self.timeout),
            daemon=True,
            name="corpus-extract",
        )
        process.start()
        sender.close()
        return _Worker(process, inbox, receiver)

    def _replace(self, worker: _Worker) -> _Worker:
        """Kill a worker and put a fresh one in its place; returns the old one for its in-flight pages."""
        worker.process.kill()
        worker.process.join(5)
        worker.inbox.cancel_join_thread()
        worker.inbox.close()
        worker.results.close()
        index = self._workers.index(worker)
        self._workers[index] = self._start_worker()
        return worker

    def start(self) -> None:
        """Start the workers now (map does it on first use): a caller can overlap their start-up."""
        with self._lock:
            if not self._workers:
                self._workers = [self._start_worker() for _ in range(self.processes)]

    def map(self, pages: Iterable[Page]) -> Iterator[Extracted]:
        """Extract every page; one Extracted per page, in the order they finish."""
        self.start()
        with self._lock:
            yield from self._run(iter(pages))

    def _run(self, pages: Iterator[Page]) -> Iterator[Extracted]:
        retry: deque[Page] = deque()
        exhausted = False
        while True:
            for worker in self._workers:
                while len(worker.inflight) < PREFETCH:
                    if retry:
                        page = retry.popleft()
                    elif not exhausted:
                        page = next(pages, None)
                        exhausted = page is None
                        if page is None:
                            break
                    else:
                        break
                    if not worker.inflight:
                        worker.started = time.monotonic()
                    worker.inbox.put(page)
                    worker.inflight.append(page)
            busy = [w for w in self._workers if w.inflight]
            if not busy:
                return
            now = time.monotonic()
            next_deadline = min(w.started + self.hard_limit for w in busy)
            ready = wait([w.results for w in busy], timeout=max(0.0, next_deadline - now))
            for worker in busy:
                if worker.results not in ready:
                    continue
                try:
                    outcome = worker.results.recv()
                except (EOFError, OSError):
                    yield from self._fail(worker, retry, "extract_crash", "extraction worker died")
                    continue
                worker.inflight.popleft()
                worker.started = time.monotonic()
                yield outcome
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.inflight and now - worker.started > self.hard_limit:
                    yield from self._fail(
                        worker, retry, "extract_timeout", f"extraction took longer than {self.timeout:g} s"
                    )

    def _fail(self, worker: _Worker, retry: deque[Page], reason: str, detail: str) -> Iterator[Extracted]:
        old = self._replace(worker)
        stuck = old.inflight.popleft()
        retry.extendleft(reversed(old.inflight))
        yield reject(stuck, reason, detail)

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                worker.inbox.put(None)
            for worker in self._workers:
                worker.process.join(2)
                if worker.process.is_alive():
                    worker.process.kill()
                worker.inbox.close()
                worker.results.close()
            self._workers = []


_shared: ExtractPool | None = None
_shared_lock = threading.Lock()


def shared_pool(processes: int, options: ExtractOptions, timeout: float) -> ExtractPool:
    """The process's pool, reused across tasks and runs while its settings stay the same."""
    global _shared
    with _shared_lock:
        wanted = processes or os.cpu_count() or 1
        if _shared is not None and (_shared.processes, _shared.options, _shared.timeout) != (
            wanted,
            options,
            timeout,
        ):
            _shared.close()
            _shared = None
        if _shared is None:
            _shared = ExtractPool(wanted, options, timeout)
        return _shared


def close_shared_pool() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.close()
            _shared = None
