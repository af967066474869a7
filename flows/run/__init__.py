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

from flows.run.run import CommitOrder, Run, Tasks, logger
from flows.run.unit import RunRef

__all__ = ["CommitOrder", "Run", "RunRef", "Tasks", "logger"]
