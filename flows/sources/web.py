"""Web sources (feed, sitemap, urls): discovery lists the pages (listing.py) and splits them into units;
preparing a unit fetches its pages into the raw archive (flows/fetch), and extraction reads that archive."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flows.config import Config, FeedSource, SitemapSource, SourceBase, UrlsSource, WarcSource
from flows.fetch import crawl
from flows.fetch.aio import run_async
from flows.fetch.archive import RawArchive, raw_path
from flows.fetch.fetcher import Fetcher
from flows.records import RejectRow, WorkItem
from flows.sources import DiscoverContext, Unit, UnitContext, UnitWork, listing
from flows.sources.listing import listed_in
from flows.sources.warc import WarcSlice

if TYPE_CHECKING:
    from flows.warehouse.store import Warehouse

FETCHED = True
PRELOAD = False  # its work items are WarcSlices (sources.warc, preloaded)

WebSourceConfig = FeedSource | SitemapSource | UrlsSource


@dataclass(frozen=True)
class WebUnit:
    urls: tuple[str, ...]  # the pages to fetch
    listing_rejects: tuple[RejectRow, ...]  # parts of the listing that could not be read (first unit only)
    source: WebSourceConfig  # how to fetch


def discover(source: WebSourceConfig, config: Config, context: DiscoverContext) -> list[Unit]:
    async def entries() -> listing.Listing:
        async with Fetcher(source, context.politeness) as fetcher:
            return await listing.list_entries(source, config, fetcher)

    found = run_async(entries())
    urls = [entry.url for entry in found.entries]
    size = config.runner.batch_size
    batches = [urls[i : i + size] for i in range(0, len(urls), size)] or ([[]] if found.rejects else [])
    return [
        Unit(
            source=source.name,
            kind=source.kind,
            index=i,
            inputs=(),
            spec=WebUnit(tuple(batch), tuple(found.rejects) if i == 0 else (), source),
            pages=len(batch),
        )
        for i, batch in enumerate(batches)
    ]


def prepare(unit: Unit, context: UnitContext) -> UnitWork:
    """Fetch a unit's pages into the raw archive; the work items extract what was archived, the pages that
    could not be fetched are rejects already."""
    spec: WebUnit = unit.spec
    state = context.warehouse.read_fetch_state(unit.source, list(spec.urls))
    archive = RawArchive(
        context.warehouse,
        unit.source,
        f"{context.run_id}-{unit.index:05d}",
        user_agent=spec.source.user_agent,
    )
    try:
        result = run_async(
            crawl.crawl(
                list(spec.urls),
                spec.source,
                context.run_id,
                state,
                archive,
                listed_in(spec.source),
                context.politeness,
                context.fetched,
            )
        )
    except BaseException:
        archive.abort()
        raise
    files = archive.close()
    items: list[WorkItem] = [
        WarcSlice(f.local_path, 0, os.path.getsize(f.local_path), spec.source.max_bytes, own=True)
        for f in files
    ]
    return UnitWork(
        items,
        rejects=[*spec.listing_rejects, *result.rejects],
        unchanged=result.unchanged,
        fetches=result.fetches,
        renames={f.local_path: f.final_path for f in files if f.local_path != f.final_path},
        done=archive.upload,
    )


def location(source: WebSourceConfig) -> str:
    if isinstance(source, UrlsSource):
        return source.file or f"{len(source.urls)} URL{'s' if len(source.urls) != 1 else ''}"
    return ", ".join(source.listings)


def archived(source: SourceBase, warehouse: Warehouse) -> WarcSource:
    """A web source read again from its raw archive in `warehouse` instead of the web (corpus reextract):
    a warc source of the same name, priority and filters."""
    return WarcSource(
        name=source.name,
        kind="warc",
        path=raw_path(warehouse, source.name),
        priority=source.priority,
        **source.filters().model_dump(),
    )
