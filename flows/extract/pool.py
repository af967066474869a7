"""Extraction over all cores, with a per-page time limit that a stuck page cannot escape.

The parent sends each worker small work items (a few file paths, a byte range of a WARC file: see
flows/sources); the worker reads the pages itself, so page bytes never pass through the parent, whose CPU
would otherwise be taken from the extraction on a machine whose cores are all busy. For each page the
worker notes which page it begins in a small block of shared memory (read by the parent only once the
worker is gone, so no message per page is needed for it), then sends the outcome.

A page that exceeds the time limit is first interrupted inside the worker (SIGALRM → a BaseException
trafilatura cannot swallow); if the worker is stuck in C code and does not answer within a grace period,
the parent kills it, rejects the page it had begun as `extract_timeout`, starts a fresh worker and
re-sends the rest of that item and the items queued behind it. A worker that dies (segfault, out of
memory) is handled the same way, with the reason `extract_crash`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING

from flows.errors import SourceError
from flows.extract.options import ExtractOptions
from flows.records import Extracted, Page, Skipped, WorkItem, rejected

if TYPE_CHECKING:
    from flows.extract.page import IdenticalPages

PREFETCH = 4  # work items queued per worker (~0.5 s of work), so that it never waits for the parent,
# not even while the parent commits a chunk
ORDER_WINDOW = 8  # items sent past the first unfinished one, at most, in PREFETCH × processes: what waits
# for a slow item is bounded (InOrder)


@dataclass(frozen=True)
class ReadError:
    """A work item that could not be read to its end (a truncated archive); its pages so far came through."""

    message: str
    path: str | None = None  # the input file, when the error names one


class PageSlot:
    """Which page a worker is on: its url, origin and fetch time, pickled into shared memory by the worker
    before each page and cleared after it; the parent reads it after killing a stuck worker or finding
    one dead, to reject that page and resume after it."""

    SIZE = 16384

    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self.memory = context.RawArray("B", self.SIZE)

    def begin(self, page: Page) -> None:
        data = pickle.dumps((page.url, page.origin, page.fetched_at))
        if len(data) > self.SIZE - 4:  # a URL of many kilobytes: the reject row gets its start
            data = pickle.dumps((page.url[:2048], page.origin[-8192:], page.fetched_at))
        view = memoryview(self.memory).cast("B")
        view[4 : 4 + len(data)] = data
        view[:4] = len(data).to_bytes(4, "little")

    def end(self) -> None:
        memoryview(self.memory).cast("B")[:4] = bytes(4)

    def page(self) -> Page | None:
        view = memoryview(self.memory).cast("B")
        length = int.from_bytes(view[:4], "little")
        if not length:
            return None
        url, origin, fetched_at = pickle.loads(view[4 : 4 + length])
        return Page(url, b"", fetched_at, origin)


class _PageTimeout(BaseException):
    """Raised by SIGALRM inside a worker; a BaseException so that `except Exception` cannot catch it."""


def _on_alarm(_signum: int, _frame: object) -> None:
    raise _PageTimeout


def _extract_with_limit(
    page: Page, options: ExtractOptions, limit: float, seen: IdenticalPages | None = None
) -> Extracted:
    from flows.extract.page import extract_page  # in the worker (preloaded there): the parent never extracts

    try:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            return extract_page(page, options, seen)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except _PageTimeout:
        return rejected(page, "extract_timeout", f"extraction took longer than {limit:g} s")
    except Exception as exc:  # a bug or a parser failure on one page must not end the run
        return rejected(page, "extract_error", f"{type(exc).__name__}: {exc}")


def _worker_main(
    inbox: Connection, results: Connection, slot: PageSlot, options: ExtractOptions, limit: float
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGALRM, _on_alarm)
    from flows.extract.page import IdenticalPages

    seen = IdenticalPages(options.identical_pages)
    try:
        _serve(inbox, results, slot, options, limit, seen)
    except (BrokenPipeError, EOFError):  # the parent is gone (killed): no one to report to, nor a traceback
        return


def _serve(
    inbox: Connection,
    results: Connection,
    slot: PageSlot,
    options: ExtractOptions,
    limit: float,
    seen: IdenticalPages,
) -> None:
    while True:
        item = inbox.recv()
        if item is None:
            return
        try:
            for entry in item.pages():
                if isinstance(entry, (Extracted, Skipped)):  # rejected or skipped while reading
                    results.send(("result", entry))
                    continue
                slot.begin(entry)
                results.send(("result", _extract_with_limit(entry, options, limit, seen)))
                slot.end()  # after the send: a worker killed in between has its page counted twice, not lost
        except SourceError as exc:
            results.send(("error", str(exc), exc.path))
        except BrokenPipeError:  # sending to the parent, gone
            raise
        except OSError as exc:  # a file gone, unreadable, or a remote read that failed: name the file
            where = str(exc.filename) if exc.filename else None
            results.send(("error", f"{where or item}: {exc.strerror or exc}", where))
        except Exception as exc:
            results.send(("error", f"{item}: {type(exc).__name__}: {exc}"))
        results.send(("done",))


_main_lock = threading.Lock()


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start processes without re-running the parent's main script in them.

    multiprocessing makes each new process import the parent's `__main__` (the `corpus` script, a user's
    script or notebook), which would load the CLI, Prefect and whatever else that script imports into
    every worker: ~0.7 s and ~100 MB each. Workers need only what the fork server preloaded, so the main
    module's name and file are hidden while a worker starts."""
    main = sys.modules.get("__main__")
    if main is None:
        yield
        return
    with _main_lock:
        spec, file = getattr(main, "__spec__", None), getattr(main, "__file__", None)
        main.__spec__ = None
        if file is not None:
            del main.__file__
        try:
            yield
        finally:
            main.__spec__ = spec
            if file is not None:
                main.__file__ = file


Outcome = Extracted | Skipped | ReadError


@dataclass(frozen=True, slots=True)
class _Queued:
    seq: int  # the item's place in the unit: outcomes come out in this order
    item: WorkItem


class InOrder:
    """Outcomes in the order of their items, whatever the order in which the workers finish them: the
    first unfinished item's outcomes pass at once, a later item's wait until every item before it is done.
    So the pages of a unit reach the filters, de-duplication and the warehouse in one order, the same with
    one process or sixteen."""

    def __init__(self) -> None:
        self.next = 0  # the first item not finished
        self.last_sent = -1
        self.held: dict[int, list[Outcome]] = {}
        self.finished: set[int] = set()

    def sent(self, seq: int) -> None:
        self.last_sent = max(self.last_sent, seq)

    def ahead(self) -> int:
        """How many items past the first unfinished one have gone out."""
        return self.last_sent - self.next

    def add(self, seq: int, outcome: Outcome) -> list[Outcome]:
        if seq == self.next:
            return [outcome]
        self.held.setdefault(seq, []).append(outcome)
        return []

    def done(self, seq: int) -> list[Outcome]:
        self.finished.add(seq)
        released: list[Outcome] = []
        while self.next in self.finished:
            self.finished.remove(self.next)
            self.next += 1
            released.extend(self.held.pop(self.next, []))
        return released


@dataclass
class _Worker:
    process: multiprocessing.process.BaseProcess
    inbox: Connection
    results: Connection
    slot: PageSlot
    items: deque[_Queued] = field(default_factory=deque)
    since: float = 0.0  # when it last said anything: a page's time limit counts from there


class ExtractPool:
    """A fixed set of extraction processes; `map` streams work items through them and yields one outcome
    per page (and a ReadError per item that broke off), in the order of the items (InOrder)."""

    def __init__(
        self, processes: int, options: ExtractOptions, timeout: float, preload: Sequence[str] = ()
    ) -> None:
        """`preload`: modules the workers import before they start (the readers of the work items)."""
        self.processes = processes or os.cpu_count() or 1
        self.options = options
        self.timeout = timeout
        self.preload = tuple(preload)
        self.hard_limit = timeout + max(2.0, timeout * 0.25)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([*self.preload, "flows.extract.preload"])
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()

    def _start_worker(self) -> _Worker:
        inbox_reader, inbox_writer = self._context.Pipe(duplex=False)
        receiver, sender = self._context.Pipe(duplex=False)
        slot = PageSlot(self._context)
        process = self._context.Process(
            target=_worker_main,
            args=(inbox_reader, sender, slot, self.options, self.timeout),
            daemon=True,
            name="corpus-extract",
        )
        with _main_module_hidden():
            process.start()
        inbox_reader.close()
        sender.close()
        return _Worker(process, inbox_writer, receiver, slot)

    def start(self) -> None:
        """Start the workers now (map does it on first use): a caller can overlap their start-up."""
        with self._lock:
            if not self._workers:
                self._workers = [self._start_worker() for _ in range(self.processes)]

    def map(
        self, items: Iterable[WorkItem], on_input_end: Callable[[], None] | None = None
    ) -> Iterator[Extracted | Skipped | ReadError]:
        """Outcomes of every page of `items`; `on_input_end` is called (in the caller's thread, between two
        outcomes) once every item has gone to a worker: what is left is only what the workers hold."""
        self.start()
        with self._lock:
            yield from self._run(iter(items), on_input_end)

    def _run(
        self, items: Iterator[WorkItem], on_input_end: Callable[[], None] | None = None
    ) -> Iterator[Extracted | Skipped | ReadError]:
        retry: deque[_Queued] = deque()
        order = InOrder()
        numbered = (_Queued(seq, item) for seq, item in enumerate(items))
        window = self.processes * PREFETCH * ORDER_WINDOW
        exhausted = False
        while True:
            for worker in self._workers:
                while len(worker.items) < PREFETCH:
                    if not retry and order.ahead() >= window:
                        break  # the first unfinished item is slow: hold back rather than buffer more
                    queued = retry.popleft() if retry else (None if exhausted else next(numbered, None))
                    if queued is None:
                        if not exhausted and not retry and on_input_end is not None:
                            on_input_end()
                        exhausted = exhausted or not retry
                        break
                    if not worker.items:
                        worker.since = time.monotonic()
                    worker.inbox.send(queued.item)
                    worker.items.append(queued)
                    order.sent(queued.seq)
            busy = [w for w in self._workers if w.items]
            if not busy:
                return
            deadline = min(w.since for w in busy) + self.hard_limit
            ready = wait([w.results for w in busy], timeout=max(0.0, deadline - time.monotonic()))
            # One message from each worker that has one: a worker with more is ready again at once, and
            # Connection.poll() would build a selector per message as `wait` does per loop.
            for worker in busy:
                if worker.results not in ready:
                    continue
                try:
                    message = worker.results.recv()
                except (EOFError, OSError):
                    yield from self._fail(worker, retry, order, "extract_crash", "extraction worker died")
                    continue
                worker.since = time.monotonic()
                kind = message[0]
                seq = worker.items[0].seq
                if kind == "result":
                    yield from order.add(seq, message[1])
                elif kind == "error":
                    yield from order.add(seq, ReadError(*message[1:]))
                else:  # done
                    worker.items.popleft()
                    yield from order.done(seq)
            now = time.monotonic()
            for worker in list(self._workers):
                if worker.items and now - worker.since > self.hard_limit:
                    yield from self._fail(
                        worker,
                        retry,
                        order,
                        "extract_timeout",
                        f"extraction took longer than {self.timeout:g} s",
                    )

    def _fail(
        self, worker: _Worker, retry: deque[_Queued], order: InOrder, reason: str, detail: str
    ) -> Iterator[Extracted | Skipped | ReadError]:
        """Replace a stuck or dead worker; reject the page it was on and re-queue what it had not read."""
        worker.process.kill()
        worker.process.join(5)
        worker.inbox.close()
        worker.results.close()
        self._workers[self._workers.index(worker)] = self._start_worker()
        current = worker.items.popleft()
        rest = list(worker.items)
        page = worker.slot.page()  # the worker is gone: the slot holds the page it was on, if any
        if page is not None:
            yield from order.add(current.seq, rejected(page, reason, detail))
            resumed = current.item.resume_after(page.origin)
            if resumed is not None:
                rest = [_Queued(current.seq, resumed), *rest]
            else:
                yield from order.done(current.seq)
        else:
            yield from order.add(current.seq, ReadError(f"{current.item}: {detail} while reading"))
            yield from order.done(current.seq)
        retry.extendleft(reversed(rest))

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                with contextlib.suppress(OSError):
                    worker.inbox.send(None)
            for worker in self._workers:
                worker.process.join(2)
                if worker.process.is_alive():
                    worker.process.kill()
                worker.inbox.close()
                worker.results.close()
            self._workers = []
