"""One ingest run, start to finish, in the process that conducts it:

    begin     recover what crashed runs left, record the run as started, take its lock, create what it
              uses (the extraction pool, politeness, the catalog and search refreshers)
    discover  a source's units (its listing, its new or changed files)
    extract   a unit's pages into chunks (run/unit.py), in this process or on a cluster worker
    commit    each chunk: dedup against the corpus, then store the survivors and the rejects, one chunk
              at a time across runs and processes; units commit in discovery order
    finish    record the run's end, close what it created, bring the catalog and search index up to date

`Run.conduct` runs them: per source, a discover task, one extract task per unit (in parallel where the task
runner allows) and one commit task per unit, in discovery order (CommitOrder). The Prefect flows
(flows/ingest.py) begin a run and hand it the tasks, which wrap these very methods. Everything a run holds
lives on its `Run` object, so two runs in one process share nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from filelock import FileLock, Timeout
from prefect import get_run_logger
from prefect.exceptions import MissingContextError

from flows.config import Config, SourceBase, load_config
from flows.dedup.deduplicator import Deduplicator
from flows.errors import ConfigError, SourceError
from flows.records import DocumentRow, RejectRow, RunSummary, SourceStats
from flows.run.background import BackgroundRefresh
from flows.run.progress import Progress
from flows.run.staging import StagedUnit, read_rows, remove
from flows.run.unit import RunRef, UnitResources
from flows.sources import DiscoverContext, Unit, discover, fetched_sources, location
from flows.sources.web import archived
from flows.warehouse import search_index
from flows.warehouse.compact import compact, restated_rows
from flows.warehouse.ids import new_run_id
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import BY_NAME, DOCUMENTS, INPUTS, REJECTS, RESTATED_COLUMNS, SIGNATURES
from flows.warehouse.views import build_views

if TYPE_CHECKING:
    from prefect.task_runners import TaskRunner

# Threads of the default task runner: one unit extracting while the one before it commits (the extraction
# pool already uses every core; more threads would only queue more units at it).
THREADS = 2

# Makes a context manager held around each commit beside the warehouse's file lock (the Prefect layer's
# commit slot for a warehouse on object storage: flows/ingest.py commit_guard), or None.
CommitGuard = Callable[[Warehouse], Callable[[], AbstractContextManager[object]] | None]


CATALOG_INTERVAL = 30.0  # seconds between catalog builds during a run (~0.2 s each, more with many files)
BACKGROUND_SHARE = 0.1  # of a run's time, at most, for the catalog and search index kept current meanwhile
# seconds between two listings of the warehouse's files by the commit step (files other processes published
# but never recorded in the dedup index); the first commit of a run always lists them
LISTING_INTERVAL = 60.0


def logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    """The flow run's logger (its lines go to the Prefect server), else the "corpus" logger."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("corpus")


class Tasks(NamedTuple):
    """The run's steps as Prefect tasks (flows/ingest.py): `discover` wraps Run.discover, `extract` wraps
    run/unit.py extract, `commit` wraps Run.commit."""

    discover: Any
    extract: Any
    commit: Any


class CommitOrder:
    """Units commit in the order they were discovered, whatever order their extraction finishes in, so that
    which document opens a cluster and which joins it as a copy never depends on timing: unit i commits
    directly only while it is its turn (every unit before it committed); otherwise it stages its chunks,
    and the source's commit loop commits them when it gets there."""

    def __init__(self) -> None:
        self.current = 0  # the unit whose turn it is; advanced by the commit loop only

    def is_turn(self, index: int) -> bool:
        return self.current == index

    def advance(self) -> None:
        self.current += 1


class Run:
    """A run in the process that conducts it (never shipped to workers). Use `Run.begin(...)` in a `with`
    block and `conduct(tasks)` inside it, which gives the summary; leaving the block closes what is left
    (a run that failed half-way is recorded as failed for the sources it did not finish). A plain class on
    purpose: Prefect passes it to tasks as it is."""

    def __init__(
        self,
        config: Config,
        sources: Sequence[SourceBase],
        warehouse: Warehouse,
        full: bool,
        guard: Callable[[], AbstractContextManager[object]] | None,
    ) -> None:
        self.config = config
        self.sources = list(sources)
        self.warehouse = warehouse
        self.full = full
        self.started = time.monotonic()
        self.started_at = datetime.now(UTC)
        run_id = new_run_id()
        self.ref = RunRef(run_id=run_id, warehouse_uri=warehouse.uri, catalog=warehouse.catalog)
        self.lock = FileLock(warehouse.lock_path(f"run-{run_id}"))
        self.progress = Progress.of_context()
        self.results: dict[str, SourceStats] = {}
        self.in_process = config.runner.kind == "threads"  # extraction in this process (else: a cluster)
        self.slots: int | None = None  # a cluster's task slots, once it is up
        self.resources = UnitResources.for_run(config.extract, config.dedup)
        # the commit: one chunk at a time, through the deduplicator, under the warehouse's file lock and
        # the guard (taken after the file lock, so the two can never deadlock)
        self.deduplicator: Deduplicator | None = None
        self.sequence = 0
        self.commit_lock = threading.Lock()
        self.committing = CommitTime()
        self.warehouse_lock = FileLock(warehouse.lock_path("commit"))
        self.guard = guard
        self.parts_read: dict[str, dict[str, Any]] = {}  # input files read in parts: their sum so far
        # the search index and the catalog kept up to date while the run goes (the catalog names every file,
        # so it is rebuilt at the end anyway: while the run goes, every CATALOG_INTERVAL at most, so that a
        # long run's documents can be queried before it ends and a short run builds it once)
        self.indexing = BackgroundRefresh(
            lambda: search_index.refresh(warehouse), "corpus-search-index", share=BACKGROUND_SHARE
        )
        self.cataloguing = BackgroundRefresh(
            lambda: build_views(warehouse, only_if_changed=True),
            "corpus-views",
            CATALOG_INTERVAL,
            BACKGROUND_SHARE,
        )
        self.listed_at = -math.inf  # when the commit step last listed the warehouse's files (dedup refresh)
        self.finished: RunSummary | None = None
        # corpus reextract: documents already stored whose page was read again, per source (doc_id and the
        # columns read from the page: warehouse/tables.py RESTATED_COLUMNS), written into them at the end
        self.restating = False
        self.restated: dict[str, list[dict[str, Any]]] = {}

    # ---- begin

    @classmethod
    def begin(
        cls,
        config_path: str | Path,
        names: list[str] | None = None,
        override: str | None = None,
        full: bool = False,
        guard: CommitGuard | None = None,
        from_archive: bool = False,
    ) -> Run:
        """Load the config, recover what crashed runs left behind, then record this run as started.
        `names`: only these sources (else every enabled one); `override`: a warehouse folder instead of the
        config's; `full`: read every local input file again; `from_archive`: the web sources' pages are
        read again from the raw archive instead of the web (corpus reextract)."""
        config = load_config(config_path)
        warehouse = Warehouse(*config.warehouse_location(override))
        sources = config.select(names)
        if from_archive:
            if not warehouse.local:
                raise ConfigError(
                    f"reextract reads the raw archive from a local warehouse; {warehouse.uri} is remote"
                )
            sources = [archived(source, warehouse) for source in fetched_sources(config, names)]
        recover_interrupted_runs(warehouse)
        run = cls(config, sources, warehouse, full, guard(warehouse) if guard is not None else None)
        run.restating = from_archive
        if run.in_process:
            run.resources.start_pool()  # overlaps the run's set-up, Prefect's and the first discovery
        try:
            run.lock.acquire()
            warehouse.fs.create_dir(warehouse.staging_dir(run.ref.run_id), recursive=True)
            warehouse.write_run_rows(
                run.ref.run_id, "start", [_run_row(s, "running", run.started_at) for s in run.sources]
            )
        except BaseException:  # not begun: nothing to record, but what was created is closed
            run._close_resources()
            if run.lock.is_locked:
                run.lock.release()
            raise
        return run

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.finished is None:
            self._close(completed=False)

    @contextlib.contextmanager
    def task_runner(self) -> Iterator[TaskRunner[Any]]:
        """The Prefect task runner the run's tasks go to: threads in this process, or a Dask cluster
        (checked, given the run's extraction settings, and cleaned up after the run: run/cluster.py)."""
        if self.in_process:
            from prefect.task_runners import ThreadPoolTaskRunner

            threads: TaskRunner[Any] = ThreadPoolTaskRunner(max_workers=THREADS)
            with threads as runner:
                yield runner
            return
        from flows.run import cluster

        with cluster.running(self.config, self.ref, self.warehouse) as (runner, slots):
            self.slots = slots
            yield runner

    # ---- conduct

    def conduct(self, tasks: Tasks) -> RunSummary:
        """The run's sources one after another, as `tasks`; then finish."""
        with self.task_runner() as runner:
            for source in self.sources:
                self.results[source.name] = self._source(source, runner, tasks)
        return self.finish()

    def _source(self, source: SourceBase, runner: TaskRunner[Any], tasks: Tasks) -> SourceStats:
        """One source, unless a run of it is still going elsewhere (then: skipped, not doubled); a failing
        source never fails another."""
        started = time.monotonic()
        lock = FileLock(self.warehouse.lock_path(f"source-{source.name}"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            logger().warning("source %s: skipped, a run of it is still going in another process", source.name)
            return SourceStats(
                status="skipped", error="a run of this source was still going in another process"
            )
        try:
            stats = self._source_tasks(source, runner, tasks)
        except Exception as exc:
            stats = SourceStats(status="failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            lock.release()
        stats.seconds = round(time.monotonic() - started, 3)
        _log_source(source.name, stats)
        return stats

    def _source_tasks(self, source: SourceBase, runner: TaskRunner[Any], tasks: Tasks) -> SourceStats:
        """Discover the source's units, extract them (in parallel where the runner allows), and commit them
        in discovery order, each as soon as the ones before it are committed, so committing one unit
        overlaps extracting the next and the outcome never depends on which unit finishes first."""
        stats = SourceStats()
        units = tasks.discover(self, source)
        if isinstance(units, SourceError):
            stats.fail(str(units))
            return stats
        order = CommitOrder()
        futures = [
            runner.submit(
                tasks.extract,
                parameters={
                    "unit": unit,
                    "ref": self.ref,
                    "run": self if self.in_process else None,
                    "turn": functools.partial(order.is_turn, index),
                },
            )
            for index, unit in enumerate(units)
        ]
        with cancelling(futures):
            for future in futures:
                stats.add(tasks.commit(self, future.result()))
                order.advance()
        return stats

    def discover(self, source: SourceBase) -> list[Unit] | SourceError:
        """The source's units, with its filters; or what is wrong with it (returned, not raised: a source
        that cannot be read is one line in the run's summary, not a traceback)."""
        context = DiscoverContext(self.warehouse, self.full, self.slots, self.resources.politeness)
        try:
            units = discover(source, self.config, context)
        except SourceError as exc:
            return exc
        pages = [unit.pages for unit in units]
        known = None if not units or None in pages else sum(p or 0 for p in pages)
        self.progress.source_started(source.name, len(units), known)
        filters = source.filters()
        return [dataclasses.replace(unit, filters=filters) for unit in units]

    # ---- commit

    def commit(self, staged: StagedUnit) -> SourceStats:
        """Commit what a unit staged (extracted elsewhere, or while units before it were extracting); the
        chunks it committed directly are counted."""
        stats = SourceStats(**staged.counts(), reasons=staged.reasons)
        if not self.in_process:  # extracted on a worker, whose progress reports go nowhere
            self.progress.pages_fetched(staged.source, staged.fetched)
            self.progress.pages_done(staged.source, staged.seen)
        for chunk in staged.chunks:
            if chunk.after:  # the last chunk of a unit, after its documents
                for table, path in chunk.after.items():
                    rows = read_rows(self.warehouse, path)
                    for row in rows:
                        if row.get("path") in chunk.parts:
                            row["part"] = chunk.parts[row["path"]]
                    self.commit_after(staged.source, table, rows)
            else:
                documents = cast(list[DocumentRow], read_rows(self.warehouse, chunk.documents))
                rejects = cast(list[RejectRow], read_rows(self.warehouse, chunk.rejects))
                duplicates, written = self.commit_chunk(staged.source, documents, rejects)
                stats.duplicates += duplicates
                stats.written += written
            remove(self.warehouse, chunk)
        if staged.error:
            stats.fail(staged.error)
        self.progress.unit_done(staged.source)
        return stats

    def commit_chunk(
        self, source: str, documents: list[DocumentRow], rejects: list[RejectRow]
    ) -> tuple[int, int]:
        """Dedup documents against the corpus, then store the survivors and the rejects: one step, one
        chunk at a time across runs and processes. Returns (duplicates, written)."""
        with (
            self.commit_lock,
            self.warehouse_lock,
            self.guard() if self.guard else contextlib.nullcontext(),
            self.committing.measure(len(documents)),
        ):
            if self.deduplicator is None:
                self.deduplicator = Deduplicator(self.warehouse, self.config.dedup, log=self._say)
            if time.monotonic() - self.listed_at >= LISTING_INTERVAL:  # O(files): not at every commit
                self.deduplicator.refresh()  # unrecorded files (runs that crashed, other machines)
                self.listed_at = time.monotonic()
            classified = self.deduplicator.classify(documents)
            if self.restating:
                self.restated.setdefault(source, []).extend(
                    {column: row.get(column) for column in ("doc_id", *RESTATED_COLUMNS)}
                    for row in classified.restated
                )
            self.sequence += 1
            run_id, seq = self.ref.run_id, self.sequence
            written = self.warehouse.write_partitioned(DOCUMENTS, classified.kept, source, run_id, seq)
            signatures = self.deduplicator.committed(written, classified.pending)
            signed = self.warehouse.write_partitioned(SIGNATURES, signatures, source, run_id, seq)
            first = self.deduplicator.rejects.first(source, rejects)  # once per page and reason
            rejected = self.warehouse.write_partitioned(REJECTS, first, source, run_id, seq)
            self.deduplicator.record(source, written, signed, rejected)  # published: now in the index
        if classified.kept:  # indexed for search, and the catalog checked, while the next pages extract
            self.indexing.request()
            self.cataloguing.request()
        return classified.duplicates, len(classified.kept)

    def _say(self, message: str) -> None:
        """A line about long work of the run's own: in its log, and to whoever watches it (the CLI)."""
        logger().info("%s", message)
        self.progress.note(message)

    def commit_after(self, source: str, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows that describe what a unit's documents came from (web fetch state, local input files):
        committed after those documents, so a run that stops in between reads them again next time."""
        if table == INPUTS.name:
            rows = self._whole_files(rows)
            if not rows:
                return
        with self.commit_lock:
            self.sequence += 1
            # no warehouse lock: no other run reads these rows while committing
            self.warehouse.write_partitioned(BY_NAME[table], rows, source, self.ref.run_id, self.sequence)

    def _whole_files(self, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Rows of input files read in parts (byte ranges of one WARC file, each a unit of its own) are
        summed and given with the file's last part, unless a part broke off or never came (then the file
        is not recorded, and the next run reads it again). Parts commit in order (CommitOrder)."""
        ready: list[Mapping[str, Any]] = []
        for row in rows:
            if "part" not in row:
                ready.append(row)
                continue
            part, parts, broken = row["part"]
            whole = {k: v for k, v in row.items() if k != "part"}
            so_far = self.parts_read.pop(row["path"], None)
            if part > 0:
                if so_far is None or so_far["next"] != part:
                    continue  # a part before it is missing: the file is read again next time
                for count in ("records", "documents", "rejects", "skipped"):
                    whole[count] = so_far["row"][count] + row[count]
                broken = broken or so_far["broken"]
            if part + 1 < parts:
                self.parts_read[row["path"]] = {"row": whole, "next": part + 1, "broken": broken}
            elif not broken:
                ready.append(whole)
        return ready

    # ---- finish

    def finish(self) -> RunSummary:
        """Record the run's end, close what it created, and bring the catalog and the search index up to
        date (search failing never fails the ingest: `corpus search` says why)."""
        self._restate()
        self._report_commit_time()
        ended = self._close(completed=True)
        try:
            search_index.refresh(self.warehouse)
        except Exception as exc:
            logger().warning("full-text index not refreshed (corpus search will say why): %s", exc)
        else:
            if self.indexing.error is not None:  # repaired by the final refresh, but say so
                logger().info(
                    "full-text index: a refresh during the run failed (%s); completed at the end",
                    self.indexing.error,
                )
        self.finished = RunSummary(
            run_id=self.ref.run_id,
            warehouse=self.warehouse.uri,
            catalog=self.warehouse.catalog,
            seconds=round(time.monotonic() - self.started, 3),
            commit_seconds=round(self.committing.seconds, 3),
            commit_cpu_seconds=round(self.committing.cpu, 3),
            sources=self.results,
            started_at=self.started_at,
            ended_at=ended,
        )
        return self.finished

    def _report_commit_time(self) -> None:
        """The commit step's share of the run, in its log: how near one committing process is to being the
        run's limit (docs/scaling.md)."""
        took = self.committing
        if took.documents and took.cpu > 0:
            logger().info(
                "commit step: %d documents in %.1f s (%.0f %% of the run), %.1f s of CPU: %.0f documents a "
                "second of the committing thread's CPU",
                took.documents,
                took.seconds,
                100 * took.seconds / max(time.monotonic() - self.started, 1e-9),
                took.cpu,
                took.documents / took.cpu,
            )

    def _restate(self) -> None:
        """Write what the pages say now into the documents already stored that were read again (corpus
        reextract after an upgrade of extraction: their text is the same, their metadata may be new): the
        partitions holding them are rewritten as compaction does, in one compaction for every source."""
        restated = {source: restated_rows(rows) for source, rows in sorted(self.restated.items()) if rows}
        self.restated.clear()
        if not restated:
            return
        report = compact(
            self.warehouse, sorted(restated), lock_timeout=600.0, restated=restated, own_run=self.ref.run_id
        )
        if self.deduplicator is not None:  # the rewritten partitions' files: merged, not removed
            with self.warehouse_lock:
                self.deduplicator.refresh(merged=report.replaced)
        documents = next((t for t in report.tables if t.table == DOCUMENTS.name), None)
        logger().info(
            "%d stored documents restated from their pages read again (%s; %d partitions rewritten)",
            sum(table.num_rows for table in restated.values()),
            ", ".join(restated),
            documents.partitions if documents else 0,
        )

    def _close(self, completed: bool) -> datetime:
        ended = datetime.now(UTC)
        try:
            rows = []
            for source in self.sources:
                stats = self.results.get(source.name) or SourceStats(status="failed", error="not run")
                rows.append(_run_row(source, stats.status, self.started_at, ended, stats))
            self.warehouse.write_run_rows(self.ref.run_id, "end", rows)
            self.warehouse.remove_staging(self.ref.run_id)
            self.lock.release()
        finally:
            self._close_resources(build_catalog=completed)
        return ended

    def _close_resources(self, build_catalog: bool = False) -> None:
        """Close the pool and the refreshers; with `build_catalog`, bring the catalog up to date while the
        last commit is indexed for search in the background."""
        self.resources.close()
        if self.deduplicator is not None:
            self.deduplicator.close()
            self.deduplicator = None
        try:
            self.cataloguing.close()
            if build_catalog:
                build_views(self.warehouse, only_if_changed=True)
        finally:
            self.indexing.close()


class CommitTime:
    """Time the commit step worked (locks held: dedup, Parquet, the dedup index), and its thread's CPU."""

    def __init__(self) -> None:
        self.documents = 0
        self.seconds = 0.0
        self.cpu = 0.0

    @contextlib.contextmanager
    def measure(self, documents: int) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - wall
            self.cpu += time.thread_time() - cpu
            self.documents += documents


def _log_source(name: str, stats: SourceStats) -> None:
    """The source's one line in the flow run's log (the Prefect UI's logs tab, `corpus serve`'s console):
    an error when it failed, a warning when it had many rejects, else information."""
    if stats.status == "failed":
        level = logging.ERROR
    elif stats.many_rejected or stats.status == "skipped":
        level = logging.WARNING
    else:
        level = logging.INFO
    logger().log(level, "%s", stats.line(name))


def recover_interrupted_runs(warehouse: Warehouse) -> list[str]:
    """Runs whose process died (staging left behind, lock free) are recorded as interrupted and their
    uncommitted staging removed; their committed files stay and dedup keeps re-runs from repeating them."""
    recovered = []
    phases = warehouse.run_phases()
    for run_id in warehouse.staged_runs():
        lock = FileLock(warehouse.lock_path(f"run-{run_id}"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # still running in another process
        try:
            if "start" in phases.get(run_id, set()) and "end" not in phases[run_id]:
                rows = warehouse.read_run_rows(run_id, "start")
                now = datetime.now(UTC)
                for row in rows:
                    row.update(status="interrupted", ended_at=now, error="the ingest process stopped early")
                warehouse.write_run_rows(run_id, "end", rows)
            warehouse.remove_staging(run_id)
            warehouse.remove_temp_files(run_id)
            recovered.append(run_id)
        finally:
            lock.release()
    return recovered


def _run_row(
    source: SourceBase,
    status: str,
    started: datetime,
    ended: datetime | None = None,
    stats: SourceStats | None = None,
) -> dict[str, Any]:
    stats = stats or SourceStats()
    return {
        "source": source.name,
        "kind": source.kind,
        "location": location(source),
        "status": status,
        "started_at": started,
        "ended_at": ended,
        **stats.counts(),
        "seconds": stats.seconds,
        "error": stats.error,
        "priority": source.priority,
    }


@contextlib.contextmanager
def cancelling(futures: list[Any]) -> Iterator[None]:
    """Cancel the tasks still queued or running when the caller fails (a failed or cancelled flow leaves
    nothing running on a cluster)."""
    try:
        yield
    except BaseException:
        for future in futures:
            wrapped = getattr(future, "wrapped_future", None)
            with contextlib.suppress(Exception):
                if wrapped is not None:
                    wrapped.cancel()
                else:
                    future.cancel()
        raise
