"""Sources say what to ingest: each kind lists its work units, and splits a unit into work items.

A unit is one Prefect task's worth of input (a batch of files, one WARC file); `discover` must be cheap.
A work item is what one extraction worker reads by itself (a few files, a byte range of a WARC file), so
page bytes never pass through the parent process. An item streams its pages, so memory stays flat however
large a unit is. Read problems of one page come out as rejects (an `Extracted` with `reject` set), never
as exceptions; a problem that ends a whole item (a truncated WARC) is raised as SourceError after the
pages read so far. An item can resume after a page, when the worker reading it had to be replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from flows.config import AnySource, Config, FeedSource, SitemapSource, UrlsSource
from flows.documents import Extracted, Page
from flows.quality import QualityRules


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
    urls: list[str] = []  # web sources: the pages to fetch
    listing_rejects: list[dict] = []  # web sources: parts of the listing that could not be read
    web: FeedSource | SitemapSource | UrlsSource | None = None  # web sources: how to fetch
    quality: QualityRules | None = None  # the source's quality filters (set by the flow)

    @property
    def label(self) -> str:
        return f"{self.source}#{self.index}"


def discover(source: AnySource, config: Config) -> list[Unit]:
    from flows.sources import files, warc, web

    module = {"files": files, "warc": warc}.get(source.kind, web)
    return module.discover(source, config)  # type: ignore[arg-type]


class WorkItem(Protocol):
    """A picklable piece of a unit, read inside an extraction worker."""

    def pages(self) -> Iterator[Page | Extracted]: ...

    def resume_after(self, origin: str) -> WorkItem | None:
        """The rest of this item after the page read from `origin` (None when nothing is left)."""
        ...


def work_items(kind: str, unit: Unit) -> list[WorkItem]:
    from flows.sources import files, warc

    module = {"files": files, "warc": warc}[kind]
    return module.work_items(unit)


def read_pages(kind: str, unit: Unit) -> Iterator[Page | Extracted]:
    """Every page of a unit, read in this process (extraction workers read their items themselves)."""
    for item in work_items(kind, unit):
        yield from item.pages()


def location(source: AnySource) -> str:
    """What the source reads, for the runs table."""
    if isinstance(source, (FeedSource, SitemapSource)):
        return source.url
    if isinstance(source, UrlsSource):
        return source.file or f"{len(source.urls)} URL{'s' if len(source.urls) != 1 else ''}"
    return source.path
