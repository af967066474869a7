"""Sources say what to ingest: each kind lists its work units, then streams the pages of one unit.

A unit is one Prefect task's worth of input (a batch of files, one WARC file). `discover` must be cheap;
`read_pages` streams, so memory stays flat however large a unit is. Read problems of one page come out
as rejects (an `Extracted` with `reject` set), never as exceptions; a problem that ends a whole unit
(a truncated WARC) is raised as SourceError after the pages read so far.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from flows.config import Config, FilesSource, WarcSource
from flows.documents import Extracted, Page


class SourceError(Exception):
    """A source that cannot be read (nothing matches its glob, a corrupt archive); one-line message."""


class Unit(BaseModel):
    """One task's input: serialisable, so that it can travel to a Dask or Ray worker."""

    model_config = ConfigDict(frozen=True)

    source: str
    index: int
    paths: list[str]
    base_dir: str = ""
    url_prefix: str | None = None
    max_bytes: int = 10_000_000

    @property
    def label(self) -> str:
        return f"{self.source}#{self.index}"


def discover(source: FilesSource | WarcSource, config: Config) -> list[Unit]:
    from flows.sources import files, warc

    module = {"files": files, "warc": warc}[source.kind]
    return module.discover(source, config)


def read_pages(kind: str, unit: Unit) -> Iterator[Page | Extracted]:
    from flows.sources import files, warc

    module = {"files": files, "warc": warc}[kind]
    return module.read_pages(unit)


def location(source: FilesSource | WarcSource) -> str:
    """What the source reads, for the runs table."""
    return source.path
