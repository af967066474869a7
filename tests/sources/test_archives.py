"""Archives as crawlers really write them (made here with warcio): encoded bodies, chunked bodies stored
raw, revisits, records that are not responses, a WARC compressed as one gzip member, ARC.gz, damage.
Every HTTP response ends as a page or a reject with its reason; everything else is counted as skipped."""

from __future__ import annotations

import gzip
import io
import re
import zlib
from pathlib import Path

import brotli
import duckdb
import pytest
import zstandard
from sites import make_article, news_page, warc_bytes
from test_sources import LOCAL
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from flows.config import load_config
from flows.errors import RunFailed, SourceError
from flows.fetch.decoding import TooLarge, dechunk, decode_body
from flows.ingest import ingest
from flows.records import Extracted, Page, Skipped
from flows.sources import discover, kind
from flows.sources.warc import WarcStream, archive_items

DATE = {"WARC-Date": "2025-07-12T06:30:00Z"}


def html(seed: int) -> bytes:
    return news_page(make_article(seed), f"https://arch.test/{seed}").encode()


def chunked(body: bytes, size: int = 700) -> bytes:
    parts = [
        b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)
    ]
    return b"".join(parts) + b"0\r\n\r\n"


def write_warc(records: list[tuple], compress: bool = True) -> bytes:
    """(kind, url, http headers | None, payload) records, payloads stored exactly as given."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compress)
    writer.write_record(writer.create_warcinfo_record("t.warc", {"software": "tests"}))
    for record_type, url, headers, payload in records:
        http = StatusAndHeaders(headers[0], headers[1], protocol="HTTP/1.1") if headers is not None else None
        warc_headers = dict(DATE)
        if record_type == "revisit":
            warc_headers |= {
                "WARC-Refers-To-Target-URI": url,
                "WARC-Refers-To-Date": "2025-07-01T00:00:00Z",
                "WARC-Profile": "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest",
            }
        record = writer.create_warc_record(
            url, record_type, payload=io.BytesIO(payload), http_headers=http, warc_headers_dict=warc_headers
        )
        writer.write_record(record)
    return buffer.getvalue()


def read(path: Path, max_bytes: int = 10_000_000) -> tuple[list[Page], list[dict], int]:
    pages, rejects, skipped = [], [], 0
    for item in archive_items(str(path), max_bytes):
        for entry in item.pages():
            if isinstance(entry, Page):
                pages.append(entry)
            elif isinstance(entry, Extracted):
                rejects.append(entry.reject)
            elif isinstance(entry, Skipped):
                skipped += entry.records
    return pages, rejects, skipped


@pytest.mark.unit
def test_encoded_and_chunked_bodies_are_decoded(tmp_path: Path) -> None:
    body = html(1)
    ok = ("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    records = [
        (
            "response",
            "https://arch.test/gzip",
            (ok[0], [*ok[1], ("Content-Encoding", "gzip")]),
            gzip.compress(body),
        ),
        (
            "response",
            "https://arch.test/xgzip",
            (ok[0], [*ok[1], ("Content-Encoding", "x-gzip")]),
            gzip.compress(body),
        ),
        (
            "response",
            "https://arch.test/deflate",
            (ok[0], [*ok[1], ("Content-Encoding", "deflate")]),
            zlib.compress(body),
        ),
        (
            "response",
            "https://arch.test/br",
            (ok[0], [*ok[1], ("Content-Encoding", "br")]),
            brotli.compress(body),
        ),
        (
            "response",
            "https://arch.test/zstd",
            (ok[0], [*ok[1], ("Content-Encoding", "zstd")]),
            zstandard.compress(body),
        ),
        (
            "response",
            "https://arch.test/chunked",
            (ok[0], [*ok[1], ("Transfer-Encoding", "chunked")]),
            chunked(body),
        ),
        (
            "response",
            "https://arch.test/both",
            (ok[0], [*ok[1], ("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip")]),
            chunked(gzip.compress(body)),
        ),
        # a crawler that stored the decoded body but kept the header: kept as it is
        ("response", "https://arch.test/stale", (ok[0], [*ok[1], ("Content-Encoding", "gzip")]), body),
        ("response", "https://arch.test/plain", ok, body),
    ]
    path = tmp_path / "encoded.warc.gz"
    path.write_bytes(write_warc(records))
    pages, rejects, skipped = read(path)
    assert not rejects and skipped == 1  # the warcinfo record
    assert [p.url.rsplit("/", 1)[1] for p in pages] == [r[1].rsplit("/", 1)[1] for r in records]
    assert all(p.html == body for p in pages)
    assert pages[0].charset == "utf-8"


@pytest.mark.unit
def test_revisits_non_responses_statuses_and_damaged_bodies(tmp_path: Path) -> None:
    body = html(2)
    records = [
        ("request", "https://arch.test/a", ("GET / HTTP/1.1", [("Host", "arch.test")]), b""),
        ("response", "https://arch.test/a", ("200 OK", [("Content-Type", "text/html")]), body),
        ("metadata", "https://arch.test/a", None, b"outlinks: none"),
        ("revisit", "https://arch.test/a", ("200 OK", [("Content-Type", "text/html")]), b""),
        ("response", "https://arch.test/gone", ("404 Not Found", [("Content-Type", "text/html")]), body),
        ("response", "https://arch.test/pic", ("200 OK", [("Content-Type", "image/png")]), b"\x89PNG"),
        (
            "response",
            "https://arch.test/broken",
            ("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "gzip")]),
            b"\x1f\x8b\x08\x00garbage that is not deflate data",
        ),
        ("resource", "https://arch.test/file.txt", None, b"a resource"),
    ]
    path = tmp_path / "mixed.warc"
    path.write_bytes(write_warc(records, compress=False))
    pages, rejects, skipped = read(path)
    assert [p.url for p in pages] == ["https://arch.test/a"]
    assert [(r["url"], r["reason"]) for r in rejects] == [
        ("https://arch.test/a", "revisit"),
        ("https://arch.test/gone", "http_404"),
        ("https://arch.test/pic", "not_html"),
        ("https://arch.test/broken", "bad_encoding"),
    ]
    assert "2025-07-01" in rejects[0]["detail"]  # what it refers to
    assert skipped == 4  # warcinfo, request, metadata, resource


@pytest.mark.unit
def test_decompression_bombs_are_too_large() -> None:
    bomb = gzip.compress(b"<html>" + b" " * 5_000_000)
    with pytest.raises(TooLarge):
        decode_body(bomb, "gzip", None, 1_000_000)
    with pytest.raises(TooLarge):
        decode_body(brotli.compress(b"x" * 5_000_000), "br", None, 1_000_000)
    with pytest.raises(TooLarge):
        decode_body(zstandard.compress(b"x" * 5_000_000), "zstd", None, 1_000_000)
    assert dechunk(b"not chunked at all", 100) is None


@pytest.mark.flow
def test_a_warc_compressed_as_one_gzip_member_is_read_whole(tmp_path: Path, make_config) -> None:
    records = [
        ("response", f"https://arch.test/{i}", ("200 OK", [("Content-Type", "text/html")]), html(10 + i))
        for i in range(5)
    ]
    path = tmp_path / "one-member.warc.gz"
    path.write_bytes(gzip.compress(write_warc(records, compress=False)))  # `gzip file.warc`
    items = archive_items(str(path), 10_000_000)
    assert [type(i) for i in items] == [WarcStream]  # cannot be cut: one work item, not zero
    pages, rejects, _ = read(path)
    assert [p.url for p in pages] == [f"https://arch.test/{i}" for i in range(5)] and not rejects
    assert len({p.origin for p in pages}) == 5  # offsets in the decompressed stream, one per record
    resumed = items[0].resume_after(pages[2].origin)
    assert [p.url for p in resumed.pages() if isinstance(p, Page)] == [
        "https://arch.test/3",
        "https://arch.test/4",
    ]

    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "w"\nkind = "warc"\n'
        'path = "*.warc.gz"\nmin_words = 10\n'
    )
    summary = ingest(str(config))
    assert summary.ok and summary.sources["w"].written == 5 and summary.sources["w"].skipped == 1


@pytest.mark.unit
def test_arc_gz_member_by_member_and_as_one_member(tmp_path: Path, make_config) -> None:
    def arc_record(url: str, body: bytes) -> bytes:
        http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        return b"%s 127.0.0.1 20250712063000 text/html %d\n" % (url.encode(), len(http)) + http + b"\n"

    head = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    filedesc = b"filedesc://t.arc 0.0.0.0 20250712063000 text/plain %d\n" % len(head) + head + b"\n"
    records = [arc_record(f"http://arch.test/{i}", html(20 + i)) for i in range(3)]
    (tmp_path / "members.arc.gz").write_bytes(b"".join(gzip.compress(r) for r in [filedesc, *records]))
    (tmp_path / "single.arc.gz").write_bytes(gzip.compress(filedesc + b"".join(records)))
    for name in ("members.arc.gz", "single.arc.gz"):
        pages, rejects, skipped = read(tmp_path / name)
        assert [p.url for p in pages] == [f"http://arch.test/{i}" for i in range(3)], name
        assert not rejects and skipped == 1, name


@pytest.mark.flow
def test_a_damaged_file_keeps_what_was_read_and_names_file_and_offset(tmp_path: Path, make_config) -> None:
    good = [
        ("response", f"https://arch.test/{i}", ("200 OK", [("Content-Type", "text/html")]), html(30 + i))
        for i in range(3)
    ]
    data = write_warc(good, compress=False)
    cut = data.index(b"WARC/1.0", data.index(b"https://arch.test/2") - 400)  # the last record's start
    damaged = data[:cut] + b"WARC/1.0\r\nthis is not a header\r\n\r\n" + b"x" * 50
    (tmp_path / "damaged.warc").write_bytes(damaged)
    (tmp_path / "fine.warc").write_bytes(write_warc(good[:1], compress=False))
    config = load_config(make_config('[[sources]]\nname = "w"\nkind = "warc"\npath = "*.warc"\n'))
    units = discover(config.sources[0], config)
    pages = []
    with pytest.raises(SourceError) as error:
        for item in kind("warc").prepare(units[0], LOCAL).items:
            for entry in item.pages():
                if isinstance(entry, Page):
                    pages.append(entry.url)
    assert pages == ["https://arch.test/0", "https://arch.test/1"]
    message = str(error.value)
    assert "damaged.warc" in message and "\n" not in message
    offset = int(re.search(r"offset (\d+)", message).group(1))  # the last record read before the damage
    assert 0 < offset <= cut and damaged[offset:].startswith(b"WARC/1.0")

    cfg = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "w"\nkind = "warc"\npath = "*.warc"\nmin_words = 10\n',
        name="s2.toml",
    )
    with pytest.raises(RunFailed) as failed:
        ingest(str(cfg))
    summary = failed.value.summary
    stats = summary.sources["w"]
    assert (
        stats.status == "failed"
        and "damaged.warc" in (stats.error or "")
        and "fine.warc" not in (stats.error or "")
    )
    with duckdb.connect(summary.catalog, read_only=True) as con:
        assert con.sql("select count(*) from documents").fetchone() == (2,)  # arch.test/0 twice is one page
        # the damaged file is not recorded as ingested: the next run reads it again
        assert con.sql("select path from inputs").fetchall() == [(str(tmp_path / "fine.warc"),)]


@pytest.mark.unit
def test_warcio_warnings_go_to_the_log_not_the_console(tmp_path: Path, capfd) -> None:
    body = html(40)
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    head = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    arc = (
        b"filedesc://t.arc 0.0.0.0 20250712063000 text/plain %d\n" % len(head)
        + head
        + b"\n"
        # a URL with spaces, and a record not followed by its newline: warcio warns about both
        + b"http://arch.test/a b c 127.0.0.1 20250712063000 text/html %d\n" % len(http)
        + http
        + b"\x00\x00"
    )
    (tmp_path / "warns.arc").write_bytes(arc)
    pages, _, _ = read(tmp_path / "warns.arc")
    assert len(pages) == 1
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


@pytest.mark.unit
def test_remote_reads_grow_while_sequential_and_return_the_bytes_asked(tmp_path: Path) -> None:
    """storage.RemoteFile over a real pyarrow random-access file: the bytes of every read and seek are the
    file's; a reader going on sequentially costs few ranged reads, a short range after a seek one small."""
    import os

    import pyarrow as pa

    from flows.sources.storage import BUFFER_BYTES, RemoteFile

    data = os.urandom(12 << 20)

    class Counted:
        def __init__(self) -> None:
            self.file, self.reads = pa.BufferReader(data), []

        def size(self) -> int:
            return int(self.file.size())

        def read_at(self, nbytes: int, offset: int) -> bytes:
            self.reads.append(nbytes)
            return bytes(self.file.read_at(nbytes, offset))

        def close(self) -> None:
            self.file.close()

    counted = Counted()
    stream = RemoteFile(counted)
    got = b"".join(iter(lambda: stream.read(16 << 10), b""))
    assert got == data
    assert len(counted.reads) <= 8 and max(counted.reads) == BUFFER_BYTES, counted.reads
    counted.reads.clear()
    for offset in (5_000_000, 17, 11_000_000, len(data) - 10):
        stream.seek(offset)
        assert stream.read(1000) == data[offset : offset + 1000]
    assert counted.reads == [RemoteFile.FIRST_READ] * 3 + [10], counted.reads
    stream.seek(-5, 2)
    assert stream.tell() == len(data) - 5 and stream.read() == data[-5:] and stream.read(10) == b""


@pytest.mark.unit
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_a_record_cut_inside_its_headers_is_an_unreadable_reject(compress: bool) -> None:
    """Seen: FastWARC ends quietly when a file ends inside a record's WARC headers (or its gzip member's
    first bytes): that record was neither a document nor a reject, and the file was not named damaged."""
    import io

    from flows.sources.warc import _read_warc

    first = news_page(make_article(1), "https://a.test/1").encode()
    second = news_page(make_article(2), "https://a.test/2").encode()
    both = warc_bytes(
        [
            ("https://a.test/1", "200 OK", "text/html", first),
            ("https://a.test/2", "200 OK", "text/html", second),
        ],
        compress=compress,
    )
    if compress:  # the second record starts where the first gzip member ends
        member = zlib.decompressobj(16 + zlib.MAX_WBITS)
        member.decompress(both)
        start = len(both) - len(member.unused_data)
    else:
        start = both.index(b"WARC/1.0", 1)
    for into in (10, 40, 80, 150):  # bytes of the second record left: inside its headers
        outcomes: list[Page | Extracted | Skipped] = []
        with pytest.raises(SourceError, match=f"truncated at the record at offset {start}$"):
            for outcome in _read_warc("cut.warc", io.BytesIO(both[: start + into]), None, 10**7):
                outcomes.append(outcome)
        pages = [o.url for o in outcomes if isinstance(o, Page)]
        rejects = [o.reject for o in outcomes if isinstance(o, Extracted) and o.reject]
        assert pages == ["https://a.test/1"], into
        assert [(r["reason"], r["origin"]) for r in rejects] == [("unreadable", f"cut.warc#{start}")], into
