"""WARC and ARC archives (plain or gzip): every HTTP response record becomes a page.

WARC files are read with FastWARC; ARC files (.arc, .arc.gz) with warcio, which converts them on the fly.
Non-HTML responses and non-200 statuses are rejected with a reason, so every record is accounted for.
"""

from __future__ import annotations

import glob
import gzip
from collections.abc import Iterator
from datetime import UTC, datetime

from flows.config import Config, WarcSource
from flows.documents import Extracted, Page
from flows.extract import reject
from flows.sources import SourceError, Unit

HTML_TYPES = ("text/html", "application/xhtml+xml")
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


def discover(source: WarcSource, config: Config) -> list[Unit]:
    pattern = config.resolve(source.path)
    paths = sorted(p for p in glob.glob(pattern, recursive=True) if p.lower().endswith(WARC_SUFFIXES))
    if not paths:
        raise SourceError(f"source {source.name!r}: no .warc/.warc.gz/.arc/.arc.gz files match {pattern!r}")
    return [
        Unit(source=source.name, index=i, paths=[path], max_bytes=config.extract.max_bytes)
        for i, path in enumerate(paths)
    ]


def read_pages(unit: Unit) -> Iterator[Page | Extracted]:
    for path in unit.paths:
        if path.lower().endswith((".arc", ".arc.gz")):
            yield from _read_arc(path, unit.max_bytes)
        else:
            yield from _read_warc(path, unit.max_bytes)


def _page_or_reject(
    url: str,
    when: datetime,
    origin: str,
    status: int | None,
    content_type: str | None,
    body: bytes | None,
    size: int,
    max_bytes: int,
) -> Page | Extracted:
    page = Page(url=url, html=b"", fetched_at=when, origin=origin)
    if status is not None and status != 200:
        return reject(page, f"http_{status}", f"HTTP status {status} in archive")
    if content_type and not content_type.lower().startswith(HTML_TYPES):
        return reject(page, "not_html", f"content type {content_type}")
    if size > max_bytes or body is None:
        return reject(page, "too_large", f"{size} bytes > max_bytes {max_bytes}")
    page.html = body
    return page


def _read_warc(path: str, max_bytes: int) -> Iterator[Page | Extracted]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    try:
        records = ArchiveIterator(path, record_types=WarcRecordType.response, parse_http=True)
        for record in records:
            url = record.headers.get("WARC-Target-URI") or ""
            when = record.record_date or datetime.now(UTC)
            size = record.content_length
            body = record.reader.read() if size <= max_bytes + 65536 else None
            if body is not None and len(body) < size:  # FastWARC stops quietly at a truncated file
                page = Page(
                    url=url.strip("<>"), html=b"", fetched_at=when, origin=f"{path}#{record.stream_pos}"
                )
                yield reject(page, "unreadable", f"truncated record: {len(body)} of {size} bytes")
                raise SourceError(f"WARC file {path}: truncated at the record at offset {record.stream_pos}")
            status = record.http_headers.status_code if record.http_headers is not None else None
            yield _page_or_reject(
                url.strip("<>"),
                when,
                f"{path}#{record.stream_pos}",
                status,
                record.http_content_type,
                body,
                len(body) if body is not None else size,
                max_bytes,
            )
    except OSError as exc:
        raise SourceError(f"WARC file {path}: {exc}") from None


def _read_arc(path: str, max_bytes: int) -> Iterator[Page | Extracted]:
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    try:
        # warcio needs one gzip member per record to seek; gzip.open reads any gzip, one member or many
        with gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb") as stream:
            iterator = ArchiveIterator(stream, arc2warc=True)
            for record in iterator:
                if record.rec_type != "response":
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                date = record.rec_headers.get_header("WARC-Date")
                when = datetime.fromisoformat(date.replace("Z", "+00:00")) if date else datetime.now(UTC)
                status_line = record.http_headers.get_statuscode() if record.http_headers else None
                status = int(status_line) if status_line and status_line.isdigit() else None
                content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
                body = record.content_stream().read(max_bytes + 1)
                yield _page_or_reject(
                    url,
                    when,
                    f"{path}#{iterator.get_record_offset()}",
                    status,
                    content_type,
                    body if len(body) <= max_bytes else None,
                    len(body),
                    max_bytes,
                )
    except (OSError, EOFError, ArchiveLoadFailed, ValueError) as exc:
        raise SourceError(f"ARC file {path}: {exc}") from None
