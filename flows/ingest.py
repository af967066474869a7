"""The Prefect flows `ingest` and `reextract`: thin wrappers around a run (flows/run/run.py), which does the
work and conducts its tasks. The tasks wrap the run's own steps: per source a `discover` task, then one
`extract` task per unit (a batch of files, a WARC file; in parallel where the task runner allows) and one
`commit` task per unit, in discovery order. Tasks, not sub-flows: a sub-flow run costs ~1 s of Prefect
bookkeeping per source.

Also here, because they are Prefect's: the commit slot shared by every machine that commits to a warehouse
on object storage, the run's summary artifact and its progress artifact.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID

from prefect import flow, get_client, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.client.schemas.objects import State
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from prefect.settings import get_current_settings
from prefect.states import Completed, Failed

from flows import prefect_settings  # noqa: F401  (quiet, offline defaults; must precede prefect's use)
from flows.errors import ConfigError, RunFailed
from flows.records import RunSummary
from flows.run import Run, Tasks, logger
from flows.run.progress import Fraction, Several, current, watching
from flows.run.unit import extract
from flows.warehouse.store import Warehouse

# The run's steps as Prefect tasks. They write to the warehouse: never cached (and their inputs need no
# hashing).
TASKS = Tasks(
    discover=task(name="discover", task_run_name="discover {source.name}", cache_policy=NO_CACHE)(
        Run.discover
    ),
    extract=task(name="extract", task_run_name="extract {unit.label}", cache_policy=NO_CACHE)(extract),
    commit=task(name="commit", task_run_name="commit {staged.label}", cache_policy=NO_CACHE)(Run.commit),
)


# Sources named in a run's name; the rest are counted.
NAMED_SOURCES = 3


def run_name() -> str:
    """A flow run's name that says what ran, how it was started and when, e.g.
    `news, blogs · scheduled · 2026-12-07 14:30 UTC` (instead of Prefect's random `spry-cicada`). How:
    `scheduled` (a deployment's schedule), `deployment` (`prefect deployment run`, the UI, an automation),
    `direct` (`corpus ingest`, a Python call)."""
    from prefect import runtime

    names = list(runtime.flow_run.parameters.get("sources") or [])
    shown = ", ".join(names[:NAMED_SOURCES]) if names else "all sources"
    if len(names) > NAMED_SOURCES:
        shown += f" +{len(names) - NAMED_SOURCES}"
    if runtime.deployment.id is None:
        how = "direct"
    elif "auto-scheduled" in runtime.flow_run.tags:
        how = "scheduled"
    else:
        how = "deployment"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{shown} · {how} · {when}"


# Parameters are checked by `_parameters`, not by Prefect: its validation builds a pydantic model of the
# signature at import and again at every call (~0.1 s of a 3 s `corpus ingest`).
@flow(name="ingest", flow_run_name=run_name, validate_parameters=False)
def ingest(
    config_path: str, sources: list[str] | None = None, warehouse: str | None = None, full: bool = False
) -> Any:
    """Ingest the config's sources (or the named ones) into the warehouse, then rebuild the views. Local
    input files ingested before and unchanged since are skipped, unless `full`.

    Gives the RunSummary; a run in which a source failed ends in Prefect's Failed state (its message names
    the sources and why), and called as a function raises RunFailed, which carries the summary."""
    _parameters(config_path, sources, warehouse, full)
    with _progress_artifact(), Run.begin(config_path, sources, warehouse, full, commit_guard) as run:
        summary = run.conduct(TASKS)
    return _outcome(summary)


@flow(name="reextract", flow_run_name=run_name, validate_parameters=False)
def reextract(
    config_path: str, sources: list[str] | None = None, warehouse: str | None = None, full: bool = True
) -> Any:
    """Extract the web sources' pages again from the raw archive, without the network. Texts that come out
    different (a newer trafilatura, other extraction settings) are stored as new versions; documents already
    stored get the metadata read from their pages now (Run._restate). Ends as `ingest` does."""
    _parameters(config_path, sources, warehouse, full)
    with (
        _progress_artifact(),
        Run.begin(config_path, sources, warehouse, full, commit_guard, from_archive=True) as run,
    ):
        summary = run.conduct(TASKS)
    return _outcome(summary)


def _parameters(config_path: object, sources: object, warehouse: object, full: object) -> None:
    """The flows' parameters as their signatures say (a deployment run's come from JSON: the Prefect UI, an
    automation, `prefect deployment run --param`)."""
    wrong = [
        f"{name} must be {kind}, not {value!r}"
        for name, value, ok, kind in (
            ("config_path", config_path, isinstance(config_path, str | os.PathLike), "a path"),
            (
                "sources",
                sources,
                sources is None or (isinstance(sources, list) and all(isinstance(s, str) for s in sources)),
                "a list of source names or null",
            ),
            ("warehouse", warehouse, warehouse is None or isinstance(warehouse, str), "a path, URI or null"),
            ("full", full, isinstance(full, bool), "true or false"),
        )
        if not ok
    ]
    if wrong:
        raise ConfigError(f"flow parameters: {'; '.join(wrong)}")


def _outcome(summary: RunSummary) -> State[Any]:
    """The flow run's final state: Completed when no source failed (rejects and skipped sources are not
    failures), else Failed, with the sources and their errors in its message; what the other sources
    committed stays (the run is "partly failed": docs/operations.md)."""
    _publish_artifact(summary)
    message = summary.state_message()
    if summary.ok:
        return Completed(message=message, data=summary)
    return Failed(message=message, data=RunFailed(message, summary))


class _ExpectedFailure(logging.Filter):
    """A flow run executed by a worker or `corpus serve` (Prefect's engine in a process of its own) that
    ends Failed makes Prefect log "Engine execution exited with unexpected exception" with a traceback of
    its own internals. When the failure is a RunFailed (failed sources, already logged one line each, in
    the state message and the artifact) that traceback says nothing: it is dropped; any other is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], RunFailed))


logging.getLogger("prefect.flow_runs").addFilter(_ExpectedFailure())


def summary_of(state: State[Any]) -> RunSummary:
    """The RunSummary of a finished ingest or reextract flow run (called with return_state=True), failed
    or not; raises what stopped a run that did not get to its summary."""
    result = state.result(raise_on_failure=False)
    if isinstance(result, RunFailed) and isinstance(result.summary, RunSummary):
        return result.summary
    if isinstance(result, BaseException):
        raise result
    if not isinstance(result, RunSummary):
        raise TypeError(f"the flow run ended {state.type.value} without a summary: {state.message}")
    return result


# ---- Prefect server features: a commit slot shared by every machine, a summary artifact per run


def server_configured() -> bool:
    """A Prefect server (or Prefect Cloud) is configured, not the temporary in-process one."""
    return bool(get_current_settings().api.url)


# The commit slot's lease, renewed while a commit holds it: a run killed while holding it (SIGKILL, a
# machine lost) keeps it until the lease expires and the server's repossessor frees it. Prefect's minimum,
# so that the next run waits at most about this + 15 s.
COMMIT_LEASE_SECONDS = 60


def commit_guard(store: Warehouse) -> Callable[[], AbstractContextManager[object]] | None:
    """For a warehouse on object storage, with a Prefect server: a global concurrency limit of 1 per
    warehouse, held around each commit, so that runs on different machines take turns (each has its own
    local catalog, so its file lock only keeps this machine's runs apart). A warehouse folder needs only
    its file lock: it lives beside the catalog, in that folder, so every machine that shares the folder
    shares the lock. (The slot is not free: acquiring it took ~2 s while the server was busy recording a
    run's task runs, measured on a 160-page run of 16 commits: 26 s with it, 2 s without.)"""
    if store.local or not server_configured():
        return None
    name = "corpus-commit-" + hashlib.blake2b(store.uri.encode(), digest_size=6).hexdigest()
    _ensure_limit(name)
    return lambda: concurrency(name, occupy=1, strict=True, lease_duration=COMMIT_LEASE_SECONDS)


def _ensure_limit(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        with contextlib.suppress(ObjectAlreadyExists):  # another run created it meanwhile
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))


def _publish_artifact(summary: RunSummary) -> None:
    """The run's table as a Prefect markdown artifact (keyed by source, so the UI shows its history)."""
    if FlowRunContext.get() is None:
        return
    names = list(summary.sources)
    key = f"ingest-{names[0]}" if len(names) == 1 else "ingest-all"
    try:
        create_markdown_artifact(markdown=summary.markdown(), key=key[:64], description="corpus ingest run")
    except Exception as exc:  # the data is committed; a missing artifact must not fail the run
        logger().warning("could not publish the run's artifact: %s", exc)


# ---- a progress artifact per run: the share of its known work done (progress.Fraction), as it moves


@contextlib.contextmanager
def _progress_artifact() -> Iterator[None]:
    """The run's progress as a Prefect progress artifact, updated at most once a second by a thread of its
    own (the reports come from task threads and event loops, and cost nothing but a count); whoever
    watched already (the CLI's bars) still hears every report."""
    reporter = _ArtifactProgress()
    with watching(Several(current(), reporter)):
        try:
            yield
        finally:
            reporter.close()


class _ArtifactProgress(Fraction):
    EVERY = 1.0  # seconds between two updates
    DESCRIPTION = "corpus run: pages fetched and extracted, units committed"

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.shown = -1.0
        self.artifact: UUID | None = None
        # created by the thread that updates it (in the flow run's context, which names the run the artifact
        # belongs to): the run does not wait for the server (~0.05 s)
        self.thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._update_every,),
            name="corpus-progress",
            daemon=True,
        )
        self.thread.start()

    def source_started(self, source: str, total_units: int, total_pages: int | None) -> None:
        with self.lock:
            super().source_started(source, total_units, total_pages)

    def pages_fetched(self, source: str, count: int) -> None:
        with self.lock:
            super().pages_fetched(source, count)

    def pages_done(self, source: str, count: int) -> None:
        with self.lock:
            super().pages_done(source, count)

    def unit_done(self, source: str) -> None:
        with self.lock:
            super().unit_done(source)

    def _update_every(self) -> None:
        try:
            created = create_progress_artifact(  # type: ignore[call-arg]
                progress=0.0, description=self.DESCRIPTION, _sync=True
            )
            self.artifact = cast(UUID, created)
        except Exception as exc:  # the run goes on without its progress artifact
            logger().warning("could not create the run's progress artifact: %s", exc)
            return
        while not self.stopped.wait(self.EVERY):
            self._update()

    def _update(self, percent: float | None = None) -> None:
        with self.lock:
            percent = self.percent() if percent is None else percent
        if self.artifact is None or round(percent, 1) == self.shown:
            return
        try:
            update_progress_artifact(self.artifact, round(percent, 1), _sync=True)  # type: ignore[call-arg]
            self.shown = round(percent, 1)
        except Exception as exc:
            logger().warning("could not update the run's progress artifact: %s", exc)
            self.artifact = None

    def close(self) -> None:
        self.stopped.set()
        self.thread.join()
        self._update(100.0)  # nothing when the artifact could not be created
