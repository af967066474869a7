"""WARC and ARC archives (plain or gzip): every HTTP response record becomes a page or a reject.

- WARC files are read with FastWARC, in byte ranges read in parallel; a WARC compressed as ONE gzip member
  (`gzip file.warc`) cannot be cut, so it is one work item, read through a gzip stream (its origins then
  give offsets in the decompressed stream). ARC files (.arc, .arc.gz) are read with warcio, which
  converts them on the fly.
- A response's body is decoded as the server meant it: chunked Transfer-Encoding and Content-Encoding
  (gzip, x-gzip, deflate, br, zstd) are undone (decoding.py), bounded by max_bytes (a bomb is too_large).
- Non-200 statuses (http_<status>), non-HTML bodies (not_html), revisit records (revisit: the capture
  refers to an earlier one) and undecodable bodies (bad_encoding) are rejects with their reason; records
  that are not HTTP responses (request, metadata, resource, warcinfo, dns) are skipped and counted.
- A damaged file keeps what was read and fails the source with one line naming the file and offset.
- Library warnings (warcio prints some) go to the log, never to the console.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, BinaryIO

from fastwarc.warc import ArchiveIterator as FastWarcIterator
from fastwarc.warc import WarcRecordType

from flows.config import Config, WarcSource
from flows.errors import SourceError
from flows.fetch.archive import is_raw_archive
from flows.fetch.decoding import BadEncoding, TooLarge, decode_body
from flows.records import HTML_TYPES, Extracted, Page, Skipped, WorkItem, rejected
from flows.sources import DiscoverContext, Unit, UnitContext, UnitWork, inputs, storage

LOGGER = logging.getLogger(__name__)
# Content types that say nothing of the body: it is HTML when it looks like HTML.
_GENERIC_TYPES = ("application/octet-stream", "binary/octet-stream", "application/unknown", "unknown/unknown")
_RECORD_TYPES = WarcRecordType.response | WarcRecordType.revisit

FETCHED = False
PRELOAD = True
WARC_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz")


def discover(source: WarcSource, config: Config, context: DiscoverContext) -> list[Unit]:
    pattern = config.resolve(source.path)
    found = [f for f in storage.list_files(pattern) if f.path.lower().endswith(WARC_SUFFIXES)]
    if not found:
        raise SourceError(f"source {source.name!r}: no .warc/.warc.gz/.arc/.arc.gz files match {pattern!r}")
    states = inputs.to_read(found, context.known_inputs(source.name), context.full, can_resume=resumable)
    specs = [
        (state, spec)
        for state in states
        for spec in _parts(
            state, config.extract.max_bytes, context.unit_bytes(sum(s.size - s.start for s in states))
        )
    ]
    return [Unit(source.name, source.kind, i, (state,), spec) for i, (state, spec) in enumerate(specs)]


def _parts(state: inputs.InputFile, max_bytes: int, unit_bytes: int | None) -> list[WarcUnit]:
    """A file as one unit, or (`unit_bytes`: when units go to a cluster) as byte ranges of about that
    many bytes, each a unit of its own, so that one large WARC spreads over every worker. Files that
    cannot be cut (ARC, one gzip member) stay whole."""
    length = state.size - state.start
    if unit_bytes is None or length <= unit_bytes or not resumable(state.path):
        return [WarcUnit(max_bytes)]
    count = -(-length // unit_bytes)
    cuts = [state.start + length * k // count for k in range(count + 1)]
    return [WarcUnit(max_bytes, cuts[k], cuts[k + 1], k, count) for k in range(count)]


def resumable(path: str) -> bool:
    """A WARC file that grew can be read from where the last read ended: one cut into byte ranges."""
    return not path.lower().endswith((".arc", ".arc.gz")) and not one_gzip_member(path)


def location(source: WarcSource) -> str:
    return source.path


@dataclass(frozen=True)
class WarcUnit:
    max_bytes: int
    start: int | None = None  # a part of the file: the records starting in [start, end)
    end: int | None = None
    part: int = 0  # this part's index among the file's `parts`
    parts: int = 1


# A worker reads a WARC file in byte ranges (compressed bytes), guided: each range is a share of what is
# left (at most MAX_SLICE_BYTES, at least SLICE_BYTES), so the ranges are large while much is left, which
# keeps neighbouring records (a page and its copies, often next to each other) with one worker and its
# memory of identical pages, and small at the end, so that every core stays busy to the last page.
SLICE_BYTES = 1 << 16  # the smallest range: a few records
MAX_SLICE_BYTES = 1 << 22  # the largest: a few hundred records, a second or two of one core's work
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
    own: bool = False  # the warehouse's raw archive: its request, warcinfo and redirect records are its own

    def pages(self) -> Iterator[Page | Extracted | Skipped]:
        with storage.open_input(self.path) as stream:
            first = record_boundary(stream, self.start, self.end)
            if first is None:
                return
            stream.seek(first)
            yield from _read_warc(self.path, stream, self.end, self.max_bytes, own=self.own)

    def resume_after(self, origin: str) -> WarcSlice | None:
        offset = int(origin.rsplit("#", 1)[1]) + 1
        return WarcSlice(self.path, offset, self.end, self.max_bytes, self.own) if offset < self.end else None


@dataclass(frozen=True)
class WarcStream:
    """A WARC file that cannot be cut into byte ranges (compressed as one gzip member), read whole
    through a gzip stream: offsets are in the decompressed stream. `skip_to` resumes after a page."""

    path: str
    max_bytes: int
    skip_to: int = 0

    def pages(self) -> Iterator[Page | Extracted | Skipped]:
        with storage.open_input(self.path) as raw, gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            yield from _read_warc(self.path, stream, None, self.max_bytes, self.skip_to)

    def resume_after(self, origin: str) -> WarcStream:
        return WarcStream(self.path, self.max_bytes, int(origin.rsplit("#", 1)[1]) + 1)


@dataclass(frozen=True)
class ArcFile:
    path: str
    max_bytes: int

    def pages(self) -> Iterator[Page | Extracted | Skipped]:
        return _read_arc(self.path, self.max_bytes)

    def resume_after(self, origin: str) -> None:
        return None  # warcio reads ARC files front to back: the rest of a failed one is lost (reported)


def prepare(unit: Unit, context: UnitContext) -> UnitWork:
    spec: WarcUnit = unit.spec
    if spec.start is not None and spec.end is not None:  # a part of one file, sized for one task slot:
        # one item (cutting it further would only add reads: a slot's pool has one process per thread)
        path = unit.inputs[0].path
        own = is_raw_archive(context.warehouse, path)
        return UnitWork([WarcSlice(path, spec.start, spec.end, spec.max_bytes, own)])
    return UnitWork(
        [
            item
            for state in unit.inputs
            for item in archive_items(
                state.path, spec.max_bytes, state.start, is_raw_archive(context.warehouse, state.path)
            )
        ]
    )


def archive_items(path: str, max_bytes: int, start: int = 0, own: bool = False) -> list[WorkItem]:
    """The work items of one archive file from `start`: byte ranges of a WARC file, a WARC file that
    cannot be cut whole, or an ARC file whole."""
    if path.lower().endswith((".arc", ".arc.gz")):
        return [ArcFile(path, max_bytes)]
    if one_gzip_member(path):
        return [WarcStream(path, max_bytes)]
    return _slices(path, max_bytes, start, storage.size(path), own)


def _slices(path: str, max_bytes: int, start: int, end: int, own: bool = False) -> list[WorkItem]:
    return [
        WarcSlice(path, start + a, start + b, max_bytes, own)
        for a, b in slice_ranges(end - start)
        if start + a < end
    ]


PROBE_BYTES = 16 << 20  # a first gzip member inflating past this is taken as the whole file's


def one_gzip_member(path: str) -> bool:
    """A gzip file whose first member runs to its end (`gzip file.warc`): its records cannot be found by
    their own gzip members, so the file cannot be cut into byte ranges. A WARC written one member per
    record (as the standard recommends) has a first member of one record."""
    with storage.open_input(path) as stream:
        if stream.read(2) != b"\x1f\x8b":
            return False
        stream.seek(0)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        produced = 0
        try:
            while produced <= PROBE_BYTES:
                data = inflater.unconsumed_tail or stream.read(1 << 16)
                if not data:
                    return True  # the member runs to the end (or is cut short: read as a stream)
                produced += len(inflater.decompress(data, 1 << 20))
                if inflater.eof:
                    return not (inflater.unused_data or stream.read(1))
        except zlib.error:
            return False  # damaged: the slices' reader reports where
        return True


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


_WINDOW = 1 << 18  # bytes searched for a record boundary per read: larger than most records
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


def _read_warc(
    path: str,
    stream: IO[bytes] | gzip.GzipFile,
    end: int | None,
    max_bytes: int,
    skip_to: int = 0,
    own: bool = False,
) -> Iterator[Page | Extracted | Skipped]:
    """The pages of the records that start before `end` (all of them with None), then how many records
    were skipped. A damaged file: the pages read so far, then SourceError naming the file and offset.
    `own`: the warehouse's raw archive, whose request, warcinfo and redirect records (the way to a page
    fetched, fetch/archive.py) are neither pages nor skipped records."""
    skipped = 0
    last = None
    yielded: set[int] = set()  # offsets of the records that became a page or a reject
    try:
        records = FastWarcIterator(stream, record_types=WarcRecordType.any_type, parse_http=True)
        for record in records:
            if end is not None and record.stream_pos >= end:
                break
            last = record.stream_pos
            if record.stream_pos < skip_to:
                continue
            if not record.record_type & _RECORD_TYPES:
                skipped += 0 if own else 1  # request, metadata, resource, warcinfo, conversion
                continue
            http: Any = record.http_headers  # None when the record's HTTP headers do not parse
            if http is None:
                url = (record.headers.get("WARC-Target-URI") or "").strip().strip("<>")
                if not url.lower().startswith(("http://", "https://")):
                    skipped += 1  # dns: and other captures that are not HTTP
                    continue
                when = record.record_date or datetime.now(UTC)
                unparsed = Page(url, b"", when, f"{path}#{record.stream_pos}")
                yielded.add(record.stream_pos)
                yield rejected(unparsed, "unreadable", "the record's HTTP headers do not parse")
                continue
            if own and 300 <= (http.status_code or 0) < 400:
                continue  # a redirect on the way to a page archived after it
            page, truncated = _warc_record(path, record, max_bytes)
            yielded.add(record.stream_pos)
            yield page
            if truncated:  # the file ends inside this record
                yield Skipped(skipped, path)
                raise SourceError(
                    f"WARC file {path}: truncated at the record at offset {record.stream_pos}", path=path
                )
    except (OSError, EOFError, zlib.error) as exc:
        yield Skipped(skipped, path)
        where = f"after the record at offset {last}" if last is not None else "at its start"
        raise SourceError(f"WARC file {path}: damaged {where}: {exc}", path=path) from None
    cut = _cut_short(stream, last, end) if last is not None else None
    if cut is not None:  # FastWARC ends quietly inside a record's headers: the record is named here
        offset, url = cut
        if offset not in yielded:  # once: a record cut where its body begins came through already
            page = Page(url, b"", datetime.now(UTC), f"{path}#{offset}")
            yield rejected(page, "unreadable", "truncated record: the file ends inside its headers")
        yield Skipped(skipped, path)
        raise SourceError(f"WARC file {path}: truncated at the record at offset {offset}", path=path)
    yield Skipped(skipped, path)


def _cut_short(stream: IO[bytes] | gzip.GzipFile, last: int, end: int | None) -> tuple[int, str] | None:
    """(offset, URL) of a record the file cuts short inside its headers, which FastWARC passes over
    quietly (as a record without headers, or not at all): the last record read when its own header block
    or gzip member does not end, else what follows it; None when nothing (or only blank lines) follows.
    Only where the read was to reach the end of the file: a byte range stops at its end on purpose."""
    try:
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        if end is not None and end < size:
            return None
        stream.seek(0)
        gzipped = stream.read(2) == b"\x1f\x8b"
        after = _record_end(stream, last, gzipped)
        if after is None:  # the last record's own headers (or gzip member) do not end: that one is cut
            after = last
        elif after >= size:
            return None
        stream.seek(after)
        rest = stream.read(_HEAD * 16)
    except (OSError, EOFError, zlib.error):
        return None
    if not rest.strip(b"\r\n"):
        return None
    blank = 0 if gzipped else len(rest) - len(rest.lstrip(b"\r\n"))  # the blank lines between records
    try:
        text = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(rest, _HEAD) if gzipped else rest
    except zlib.error:
        text = b""
    found = re.search(rb"(?im)^WARC-Target-URI:[ \t]*<?([^\s>]+)", text)
    return after + blank, found.group(1).decode("utf-8", "replace") if found else ""


def _record_end(stream: IO[bytes] | gzip.GzipFile, start: int, gzipped: bool) -> int | None:
    """Where the record starting at `start` ends: its gzip member's end, or its header block, its
    Content-Length of content and the blank line after them. Output is never kept (a bomb costs nothing)."""
    stream.seek(start)
    if gzipped:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        fed = 0
        while not inflater.eof:
            chunk = stream.read(_WINDOW)
            if not chunk:
                return None
            fed += len(chunk)
            inflater.decompress(chunk, 1)
            while inflater.unconsumed_tail and not inflater.eof:
                inflater.decompress(inflater.unconsumed_tail, _WINDOW)
        return start + fed - len(inflater.unused_data)
    head = stream.read(_WINDOW)
    blank = head.find(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:[ \t]*(\d+)", head[:blank]) if blank >= 0 else None
    return None if length is None else start + blank + 4 + int(length.group(1))


def _warc_record(path: str, record: Any, max_bytes: int) -> tuple[Page | Extracted, bool]:
    """A response or revisit record as a page, or a reject; and whether the file ends inside it."""
    url = (record.headers.get("WARC-Target-URI") or "").strip().strip("<>")
    when = record.record_date or datetime.now(UTC)
    origin = f"{path}#{record.stream_pos}"
    page = Page(url=url, html=b"", fetched_at=when, origin=origin)
    if record.record_type == WarcRecordType.revisit:
        refers = record.headers.get("WARC-Refers-To-Target-URI") or url
        since = record.headers.get("WARC-Refers-To-Date") or "an earlier capture"
        return rejected(
            page, "revisit", f"a revisit of {refers} ({since}): its payload is that capture's"
        ), False
    size = record.content_length
    body = record.reader.read() if size <= max_bytes + 65536 else None
    if body is not None and len(body) < size:  # FastWARC stops quietly at a truncated file
        return rejected(page, "unreadable", f"truncated record: {len(body)} of {size} bytes"), True
    http = record.http_headers
    outcome = _page_or_reject(
        page,
        http.status_code,
        http.get("Content-Type") or record.http_content_type,  # FastWARC drops the parameters
        body,
        size,
        max_bytes,
        http.get("Content-Encoding"),
        http.get("Transfer-Encoding"),
    )
    return outcome, False


def _page_or_reject(
    page: Page,
    status: int | None,
    content_type: str | None,
    body: bytes | None,
    size: int,
    max_bytes: int,
    content_encoding: str | None = None,
    transfer_encoding: str | None = None,
) -> Page | Extracted:
    """The page with its decoded body, or why not."""
    if status is not None and status != 200:
        return rejected(page, f"http_{status}", f"HTTP status {status} in archive")
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and not declared.startswith(HTML_TYPES) and declared not in _GENERIC_TYPES:
        return rejected(page, "not_html", f"content type {content_type}")
    if body is None:
        return rejected(page, "too_large", f"{size} bytes > max_bytes {max_bytes}")
    try:
        body, _undone = decode_body(body, content_encoding, transfer_encoding, max_bytes)
    except TooLarge as exc:
        return rejected(page, "too_large", str(exc))
    except BadEncoding as exc:
        return rejected(page, "bad_encoding", str(exc))
    if len(body) > max_bytes:
        return rejected(page, "too_large", f"{len(body)} bytes > max_bytes {max_bytes}")
    if declared in _GENERIC_TYPES and not looks_like_html(body):
        return rejected(page, "not_html", f"content type {content_type} and no HTML in the body")
    page.html = body
    page.charset = charset_of(content_type)
    return page


def looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in head or b"<body" in head


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header value."""
    if not content_type:
        return None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'").lower()
    return None


@contextlib.contextmanager
def _warnings_to_log(path: str) -> Iterator[None]:
    """warcio writes its warnings (a record not followed by a newline, spaces replaced in a URL) to
    stderr: they go to the log, with the file they are about."""
    captured = io.StringIO()
    with contextlib.redirect_stderr(captured):
        try:
            yield
        finally:
            for line in captured.getvalue().splitlines():
                if line.strip():
                    LOGGER.info("%s: warcio: %s", path, line.strip())


def _read_arc(path: str, max_bytes: int) -> Iterator[Page | Extracted | Skipped]:
    """An ARC file through warcio (records converted to WARC on the fly; bodies decoded by warcio). An
    .arc.gz is read member by member, as warcio expects; one compressed as a single gzip member is read
    through a gzip stream instead."""
    from warcio.exceptions import ArchiveLoadFailed

    skipped = 0
    last = None
    try:
        with _warnings_to_log(path):
            for entry in _arc_records(path, max_bytes, gzip_stream=one_gzip_member(path)):
                if isinstance(entry, int):
                    last = entry
                elif isinstance(entry, Skipped):
                    skipped += entry.records
                else:
                    yield entry
    except (OSError, EOFError, zlib.error, ArchiveLoadFailed, ValueError) as exc:
        yield Skipped(skipped, path)
        where = f"after the record at offset {last}" if last is not None else "at its start"
        message = " ".join(str(exc).split())
        raise SourceError(f"ARC file {path}: damaged {where}: {message}", path=path) from None
    yield Skipped(skipped, path)


def _arc_records(path: str, max_bytes: int, gzip_stream: bool) -> Iterator[Page | Extracted | Skipped | int]:
    """warcio's records: each record's offset (an int), then its page, reject or skip."""
    from warcio.archiveiterator import ArchiveIterator

    with storage.open_input(path) as raw, gzip.GzipFile(fileobj=raw) if gzip_stream else raw as stream:
        iterator = ArchiveIterator(stream, arc2warc=True)
        for record in iterator:
            url = (record.rec_headers.get_header("WARC-Target-URI") or "").strip().strip("<>")
            if record.rec_type != "response" or not record.http_headers:
                offset = iterator.get_record_offset()
                yield offset
                if record.rec_type == "response" and url.lower().startswith(("http://", "https://")):
                    when = datetime.now(UTC)
                    page = Page(url, b"", when, f"{path}#{offset}")
                    yield rejected(page, "unreadable", "the record's HTTP headers do not parse")
                else:
                    yield Skipped(1, path)
                continue
            body = record.content_stream().read(max_bytes + 1)  # decoded by warcio, read bounded
            offset = iterator.get_record_offset()  # only once the content is read: it moves the stream
            yield offset
            date = record.rec_headers.get_header("WARC-Date")
            when = datetime.fromisoformat(date.replace("Z", "+00:00")) if date else datetime.now(UTC)
            status_line = record.http_headers.get_statuscode()
            status = int(status_line) if status_line and status_line.isdigit() else None
            content_type = record.http_headers.get_header("Content-Type")
            page = Page(url, b"", when, f"{path}#{offset}")
            yield _page_or_reject(
                page, status, content_type, body if len(body) <= max_bytes else None, len(body), max_bytes
            )
