"""One ingest run, start to finish: the one place that says how a run is conducted.

    run.py         Run: begin → discover → extract → commit (dedup, then store) → finish, with what the run
                   creates and closes (pool, politeness, refreshers, commit locks); recovery of crashed runs
    unit.py        extracting one unit (prepare → pool → filters → chunks), wherever it runs, and the
                   resources it uses (UnitResources)
    staging.py     chunks on their way from extraction to the commit: directly, or through staged files
    cluster.py     a Dask cluster as the task runner: checks, the run's resources on each worker
    progress.py    progress reports to whoever watches the run (the CLI's bars)
    background.py  the search index and catalog kept up to date in threads while the run goes

The Prefect flows and tasks (flows/ingest.py) are thin wrappers around Run's steps.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flows.run.run import CommitOrder, Run, Tasks, logger
    from flows.run.unit import RunRef

__all__ = ["CommitOrder", "Run", "RunRef", "Tasks", "logger"]
# where each name lives: imported when first asked for, so that importing flows.run.unit (the CLI warms the
# extraction pool with it before Prefect is imported) does not import run.py and Prefect with it
_HOMES = MappingProxyType(
    {"CommitOrder": "run", "Run": "run", "Tasks": "run", "logger": "run", "RunRef": "unit"}
)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"flows.run.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'flows.run' has no attribute {name!r}")
