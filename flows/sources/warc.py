"""WARC and ARC archives (plain or gzip): every HTTP response record becomes a page.

WARC files are read with FastWARC; ARC files (.arc, .arc.gz) with warcio, which converts them on the fly.
Non-HTML responses and non-200 statuses are rejected with a reason, so every record is accounted for.
"""

from __future__ import annotations

import glob
import gzip
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from fastwarc.warc import ArchiveIterator as FastWarcIterator
from fastwarc.warc import WarcRecordType

from flows.config import Config, WarcSource
from flows.errors import SourceError
from flows.records import HTML_TYPES, Extracted, Page, WorkItem, rejected
from flows.sources import Unit, UnitContext, UnitWork

FETCHED = False
PRELOAD = True
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


def discover(source: WarcSource, config: Config) -> list[Unit]:
    pattern = config.resolve(source.path)
    paths = sorted(p for p in glob.glob(pattern, recursive=True) if p.lower().endswith(WARC_SUFFIXES))
    if not paths:
        raise SourceError(f"source {source.name!r}: no .warc/.warc.gz/.arc/.arc.gz files match {pattern!r}")
    return [
        Unit(source.name, source.kind, i, (path,), WarcUnit(config.extract.max_bytes))
        for i, path in enumerate(paths)
    ]


def location(source: WarcSource) -> str:
    return source.path


@dataclass(frozen=True)
class WarcUnit:
    max_bytes: int


# A worker reads a WARC file in byte ranges (compressed bytes), guided: each range is a share of what is
# left (at most MAX_SLICE_BYTES, at least SLICE_BYTES), so the ranges are large while much is left, which
# keeps neighbouring records (a page and its copies, often next to each other) with one worker and its
# memory of identical pages, and small at the end, so that every core stays busy to the last page.
SLICE_BYTES = 1 << 16
MAX_SLICE_BYTES = 1 << 22
SLICES_PER_WORKER = 8  # a range is at most 1/(8 × workers) of what is left


@dataclass(frozen=True)
class WarcSlice:
    """The records of a WARC file that start in [start, end). A worker finds the first record boundary
    at or after `start` itself (a gzip member that inflates to "WARC/", or "WARC/1." after a blank line
    in a plain file), so slices are cut by file size alone and read in parallel."""

    path: str
    start: int
    end: int
    max_bytes: int

    def pages(self) -> Iterator[Page | Extracted]:
        try:
            with open(self.path, "rb") as stream:
                first = record_boundary(stream, self.start, self.end)
                if first is None:
                    return
                stream.seek(first)
                records = FastWarcIterator(stream, record_types=WarcRecordType.response, parse_http=True)
                for record in records:
                    if record.stream_pos >= self.end:
                        return
                    yield from _warc_record(self.path, record, self.max_bytes)
        except OSError as exc:
            raise SourceError(f"WARC file {self.path}: {exc}") from None

    def resume_after(self, origin: str) -> WarcSlice | None:
        offset = int(origin.rsplit("#", 1)[1]) + 1
        return WarcSlice(self.path, offset, self.end, self.max_bytes) if offset < self.end else None


@dataclass(frozen=True)
class ArcFile:
    path: str
    max_bytes: int

    def pages(self) -> Iterator[Page | Extracted]:
        return _read_arc(self.path, self.max_bytes)

    def resume_after(self, origin: str) -> None:
        return None  # warcio reads ARC files front to back: the rest of a failed one is lost (reported)


def prepare(unit: Unit, context: UnitContext) -> UnitWork:
    spec: WarcUnit = unit.spec
    return UnitWork([item for path in unit.paths for item in archive_items(path, spec.max_bytes)])


def archive_items(path: str, max_bytes: int) -> list[WorkItem]:
    """The work items of one archive file: byte ranges of a WARC file, or an ARC file whole."""
    if path.lower().endswith((".arc", ".arc.gz")):
        return [ArcFile(path, max_bytes)]
    return [WarcSlice(path, start, end, max_bytes) for start, end in slice_ranges(os.path.getsize(path))]


def slice_ranges(size: int, workers: int | None = None) -> list[tuple[int, int]]:
    """Guided byte ranges covering [0, size): see SLICE_BYTES."""
    share = SLICES_PER_WORKER * (workers or os.cpu_count() or 1)
    ranges = []
    start = 0
    while True:
        length = min(MAX_SLICE_BYTES, max(SLICE_BYTES, (size - start) // share))
        ranges.append((start, min(start + length, size)))
        start += length
        if start >= size:
            return ranges


_WINDOW = 1 << 18
_HEAD = 4096  # compressed bytes enough to inflate a record's first bytes


def record_boundary(stream: BinaryIO, start: int, end: int) -> int | None:
    """Offset of the first WARC record that starts in [start, end), or None."""
    if start == 0:
        return 0
    stream.seek(0)
    gzipped = stream.read(2) == b"\x1f\x8b"
    # a gzip member that inflates to "WARC/", or a plain record's version line after a blank line
    marker, skip = (b"\x1f\x8b\x08", 0) if gzipped else (b"\r\n\r\nWARC/1.", 4)
    position = max(0, start - skip)
    while position < end:
        stream.seek(position)
        window = stream.read(_WINDOW)
        found = window.find(marker)
        while found != -1:
            candidate = position + found + skip
            if candidate >= end:
                return None
            if candidate >= start and (not gzipped or _inflates_to_record(window[found : found + _HEAD])):
                return candidate
            found = window.find(marker, found + 1)
        if len(window) < _WINDOW:
            return None
        position += _WINDOW - _HEAD  # overlap: a marker cut by the window's edge is seen whole next time
    return None


def _inflates_to_record(head: bytes) -> bool:
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 16).startswith(b"WARC/")
    except zlib.error:
        return False


def _warc_record(path: str, record: Any, max_bytes: int) -> Iterator[Page | Extracted]:
    url = (record.headers.get("WARC-Target-URI") or "").strip("<>")
    when = record.record_date or datetime.now(UTC)
    origin = f"{path}#{record.stream_pos}"
    size = record.content_length
    body = record.reader.read() if size <= max_bytes + 65536 else None
    if body is not None and len(body) < size:  # FastWARC stops quietly at a truncated file
        yield rejected(
            Page(url, b"", when, origin), "unreadable", f"truncated record: {len(body)} of {size} bytes"
        )
        raise SourceError(f"WARC file {path}: truncated at the record at offset {record.stream_pos}")
    status = record.http_headers.status_code if record.http_headers is not None else None
    yield _page_or_reject(
        url,
        when,
        origin,
        status,
        record.http_content_type,
        body,
        len(body) if body is not None else size,
        max_bytes,
    )


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
        return rejected(page, f"http_{status}", f"HTTP status {status} in archive")
    if content_type and not content_type.lower().startswith(HTML_TYPES):
        return rejected(page, "not_html", f"content type {content_type}")
    if size > max_bytes or body is None:
        return rejected(page, "too_large", f"{size} bytes > max_bytes {max_bytes}")
    page.html = body
    page.charset = charset_of(content_type)
    return page


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


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
