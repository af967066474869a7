"""Web sources (feed, sitemap, urls): discovery lists the pages and splits them into units; a unit's
task fetches its pages into the raw archive (flows/web) and its extraction reads that archive."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from flows.config import Config, FeedSource, SitemapSource, UrlsSource
from flows.sources import Unit
from flows.sources.warc import WarcSlice
from flows.web import crawl, listing
from flows.web.archive import RawArchive
from flows.web.fetcher import Fetcher

T = TypeVar("T")


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, also where an event loop already runs."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    thread = threading.Thread(target=target, name="corpus-async")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def discover(
    source: FeedSource | SitemapSource | UrlsSource, config: Config, run_id: str = "discover"
) -> list[Unit]:
    async def entries() -> listing.Listing:
        async with Fetcher(source, run_id) as fetcher:
            return await listing.list_entries(source, config, fetcher)

    found = run_async(entries())
    urls = [entry.url for entry in found.entries]
    size = config.runner.batch_size
    batches = [urls[i : i + size] for i in range(0, len(urls), size)] or ([[]] if found.rejects else [])
    return [
        Unit(
            source=source.name,
            index=i,
            paths=[],
            urls=batch,
            listing_rejects=found.rejects if i == 0 else [],
            max_bytes=source.max_bytes,
            web=source,
        )
        for i, batch in enumerate(batches)
    ]


def fetch(unit: Unit, run_id: str, warehouse: Any) -> tuple[crawl.CrawlResult, RawArchive, list[WarcSlice]]:
    """Fetch a unit's pages into the raw archive; returns the crawl's outcome, the archive, and the
    work items that extract what was archived."""
    assert unit.web is not None
    source = unit.web
    state = warehouse.read_fetch_state(unit.source, unit.urls)
    archive = RawArchive(warehouse, unit.source, f"{run_id}-{unit.index:05d}")
    origin = location_of(source)
    try:
        result = run_async(crawl.crawl(unit.urls, source, run_id, state, archive, origin))
    except BaseException:
        archive.abort()
        raise
    result.files = archive.close()
    items = [WarcSlice(f.local_path, 0, os.path.getsize(f.local_path), unit.max_bytes) for f in result.files]
    return result, archive, items


def location_of(source: FeedSource | SitemapSource | UrlsSource) -> str:
    if isinstance(source, UrlsSource):
        return source.file or "urls"
    return source.url
