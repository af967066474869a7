"""A batch of URLs through the fetcher: conditional requests from the last fetch state, new and changed
HTML archived as WARC, and one state row per URL. Runs in the task that then extracts the archive."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flows.config import WebSource
from flows.fetch import Politeness
from flows.fetch.archive import ArchiveFile, RawArchive
from flows.fetch.fetcher import Failure, Fetcher, Response
from flows.records import SCHEMA_VERSION, FetchRow, RejectRow, reject_row


@dataclass
class CrawlResult:
    files: list[ArchiveFile] = field(default_factory=list)  # raw archive files to extract
    rejects: list[RejectRow] = field(default_factory=list)  # URLs that yielded no page, with a reason
    fetches: list[FetchRow] = field(default_factory=list)  # one state row per URL
    unchanged: int = 0  # 304, or the same body as last time: nothing to extract


def body_hash(body: bytes) -> str:
    return hashlib.blake2b(body, digest_size=16).hexdigest()


def conditional_headers(previous: dict[str, Any] | None) -> dict[str, str]:
    headers = {}
    if previous:
        if previous.get("etag"):
            headers["If-None-Match"] = previous["etag"]
        if previous.get("last_modified"):
            headers["If-Modified-Since"] = previous["last_modified"]
    return headers


async def crawl(
    urls: list[str],
    source: WebSource,
    run_id: str,
    state: dict[str, dict[str, Any]],
    archive: RawArchive,
    origin: str,
    politeness: Politeness | None = None,
    fetched: Callable[[int], None] | None = None,
) -> CrawlResult:
    """Fetch every URL (the fetcher keeps the run's pace), archive what changed; `origin` names the listing
    for reject rows; `fetched` is told as each URL is done with (progress)."""
    result = CrawlResult()
    async with Fetcher(source, politeness) as fetcher:

        async def one(url: str) -> None:
            previous = state.get(url)
            try:
                outcome: Response | Failure = await fetcher.get(
                    url, conditional_headers(previous) or None, keep_wire=True
                )
            except Exception as exc:  # whatever one URL does costs its own row, never the batch
                outcome = Failure("fetch_error", f"{url[:300]}: {type(exc).__name__}: {exc}"[:500])
            _record(url, outcome, previous, archive, origin, run_id, result)
            if fetched is not None:
                fetched(1)

        await asyncio.gather(*(one(url) for url in urls))
    return result


def _record(
    url: str,
    outcome: Response | Failure,
    previous: dict[str, Any] | None,
    archive: RawArchive,
    origin: str,
    run_id: str,
    result: CrawlResult,
) -> None:
    now = datetime.now(UTC)
    row = {
        "url": url,
        "final_url": url,
        "status": None,
        "outcome": None,
        "etag": None,
        "last_modified": None,
        "body_hash": None,
        "redirects": outcome.redirects,
        "origin": None,
        "seconds": round(outcome.seconds, 4),
        "fetched_at": now,
        "run_id": run_id,
        "schema_version": SCHEMA_VERSION,
    }
    if isinstance(outcome, Failure):
        row.update(status=outcome.status, outcome=outcome.reason)
        result.rejects.append(reject_row(url, outcome.reason, outcome.detail, origin, now))
        result.fetches.append(row)
        return
    row.update(final_url=outcome.url, status=outcome.status)
    if outcome.status == 304 and previous is not None:
        row.update(
            outcome="not_modified",
            etag=outcome.header("etag") or previous.get("etag"),
            last_modified=outcome.header("last-modified") or previous.get("last_modified"),
            body_hash=previous.get("body_hash"),
        )
        result.unchanged += 1
        result.fetches.append(row)
        return
    digest = body_hash(outcome.body)
    row.update(etag=outcome.header("etag"), last_modified=outcome.header("last-modified"), body_hash=digest)
    if previous is not None and previous.get("body_hash") == digest:
        row["outcome"] = "unchanged"
        result.unchanged += 1
    else:
        row["outcome"] = "changed" if previous is not None else "new"
        row["origin"] = archive.add(outcome, now)
    result.fetches.append(row)
