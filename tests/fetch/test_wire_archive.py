"""The raw archive is what came over the wire: a crawl of an HTTP/1.0 and an HTTP/1.1 server (gzip and
chunked bodies, header names in their own case and order, a redirect chain) is archived as request and
response records that `warcio check` passes, with the servers' status lines, header names and encoded
bytes; extraction decodes them as it does any crawler's archive, and reextract gives the same documents."""

from __future__ import annotations

import glob
import gzip
import shutil
import subprocess
import sys
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
from fastwarc.warc import ArchiveIterator as FastWarcIterator
from sites import make_article, news_page
from warcio.archiveiterator import ArchiveIterator

from flows.ingest import ingest, reextract

HEADERS = [("X-Served-By", "wire-test"), ("Cache-Control", "max-age=60"), ("x-lower-case", "kept")]


def _page(path: str, base: str) -> bytes:
    return news_page(make_article(zlib.crc32(path.encode())), base + path).encode()


def _handler(version: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = version

        def log_message(self, format: str, *args: object) -> None:
            pass

        def head(self, status: int, reason: str, headers: list[tuple[str, str]]) -> None:
            self.wfile.write(f"{self.protocol_version} {status} {reason}\r\n".encode())
            for name, value in headers:
                self.wfile.write(f"{name}: {value}\r\n".encode())
            self.wfile.write(b"\r\n")

        def do_GET(self) -> None:
            base = f"http://{self.headers['Host']}"
            page = _page(self.path, base)
            html = [("Content-Type", "text/html; charset=utf-8"), *HEADERS]
            if self.path == "/robots.txt":
                self.head(404, "Not Found", [("Content-Length", "0")])
            elif self.path == "/plain.html":
                self.head(200, "OK Fine", [*html, ("Content-Length", str(len(page)))])
                self.wfile.write(page)
            elif self.path == "/gzip.html":
                body = gzip.compress(page, mtime=0)
                self.head(
                    200, "OK", [*html, ("Content-Encoding", "gzip"), ("Content-Length", str(len(body)))]
                )
                self.wfile.write(body)
            elif self.path in ("/chunked.html", "/chunked-gzip.html"):
                body = gzip.compress(page, mtime=0) if "gzip" in self.path else page
                encoding = [("Content-Encoding", "gzip")] if "gzip" in self.path else []
                self.head(200, "OK", [*html, *encoding, ("Transfer-Encoding", "chunked")])
                for at in range(0, len(body), 700):
                    piece = body[at : at + 700]
                    self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            elif self.path == "/r1":
                self.head(301, "Moved Permanently", [("Location", "/r2"), ("Content-Length", "0")])
            elif self.path == "/r2":
                note = b"<html>moved</html>"
                self.head(302, "Found", [("Location", "/final.html"), ("Content-Length", str(len(note)))])
                self.wfile.write(note)
            elif self.path == "/final.html":
                self.head(200, "OK", [*html, ("Content-Length", str(len(page)))])
                self.wfile.write(page)
            else:
                self.head(404, "Not Found", [("Content-Length", "0")])

    return Handler


def _serve(version: str) -> tuple[ThreadingHTTPServer, str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(version))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _records(folder: Path) -> list:
    found = []
    for path in sorted(glob.glob(str(folder / "wh" / "raw" / "source=wire" / "*.warc.gz"))):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                raw = record.raw_stream.read()  # the block after the HTTP headers, as stored
                found.append((path, record, raw))
    return found


@pytest.mark.flow
def test_the_raw_archive_is_what_came_over_the_wire(tmp_path: Path) -> None:
    old, old_base = _serve("HTTP/1.0")
    new, new_base = _serve("HTTP/1.1")
    urls = [f"{old_base}/plain.html", f"{old_base}/gzip.html"] + [
        f"{new_base}{p}" for p in ("/chunked.html", "/chunked-gzip.html", "/r1")
    ]
    config = tmp_path / "wire.toml"
    config.write_text(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "wire"\nkind = "urls"\n'
        f"urls = {urls!r}\nallow_private = true\ndelay = 0\n".replace("'", '"')
    )
    try:
        first = ingest(str(config))
    finally:
        for server in (old, new):
            server.shutdown()
            server.server_close()
    assert first.sources["wire"].written == 5 and first.sources["wire"].rejected == 0, first.sources
    assert first.sources["wire"].skipped == 0  # the archive's own bookkeeping is not counted

    files = sorted(glob.glob(str(tmp_path / "wh" / "raw" / "source=wire" / "*.warc.gz")))
    for path in files:
        check = subprocess.run(
            [str(Path(sys.executable).with_name("warcio")), "check", "-v", path],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stdout + check.stderr
        assert "digest pass" in check.stdout, check.stdout  # digests present and right

    for path in files:  # and FastWARC's digest checks, block and payload
        with open(path, "rb") as stream:
            assert all(r.verify_block_digest() for r in FastWarcIterator(stream, parse_http=False))
        with open(path, "rb") as stream:
            checked = [
                r.verify_payload_digest(consume=False)
                for r in FastWarcIterator(stream, parse_http=True)
                if r.headers.get("WARC-Payload-Digest")
            ]
            assert checked and all(checked)

    records = _records(tmp_path)
    kinds = [record.rec_type for _, record, _ in records]
    assert kinds[0] == "warcinfo" and kinds.count("warcinfo") == len(files)
    responses = {
        record.rec_headers.get_header("WARC-Target-URI"): (record, raw)
        for _, record, raw in records
        if record.rec_type == "response"
    }
    requests = [record for _, record, _ in records if record.rec_type == "request"]
    assert set(responses) == {*urls, f"{new_base}/r2", f"{new_base}/final.html"}
    response_ids = {record.rec_headers.get_header("WARC-Record-ID") for record, _ in responses.values()}
    assert len(requests) == len(responses)  # every response has its request, concurrent with it
    assert {r.rec_headers.get_header("WARC-Concurrent-To") for r in requests} == response_ids
    assert all(r.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1" for r, _ in responses.values())
    request = next(r for r in requests if r.rec_headers.get_header("WARC-Target-URI") == urls[0])
    assert request.http_headers.protocol == "GET" and request.http_headers.get_header("User-Agent")

    plain, _ = responses[urls[0]]  # the HTTP/1.0 server's own status line, names in their case and order
    assert plain.http_headers.protocol == "HTTP/1.0" and plain.http_headers.statusline == "200 OK Fine"
    names = [name for name, _ in plain.http_headers.headers]
    sent = [name for name, _ in HEADERS]
    assert [n for n in names if n in sent] == sent  # "x-lower-case" stays lower-case, order kept

    zipped, raw = responses[urls[1]]  # the gzip bytes as sent, its headers as sent
    assert zipped.http_headers.get_header("Content-Encoding") == "gzip"
    assert raw == gzip.compress(_page("/gzip.html", old_base), mtime=0)
    assert zipped.http_headers.get_header("Content-Length") == str(len(raw))

    for path in ("/chunked.html", "/chunked-gzip.html"):  # chunked as sent; decoded on reading
        record, raw = responses[f"{new_base}{path}"]
        assert record.http_headers.protocol == "HTTP/1.1"
        assert record.http_headers.get_header("Transfer-Encoding") == "chunked"
        assert raw.endswith(b"0\r\n\r\n") and raw != _page(path, new_base)

    first_hop, _ = responses[f"{new_base}/r1"]  # the redirects, each a record of its own
    second_hop, note = responses[f"{new_base}/r2"]
    assert (
        first_hop.http_headers.statusline.startswith("301")
        and first_hop.http_headers.get_header("Location") == "/r2"
    )
    assert second_hop.http_headers.get_header("Location") == "/final.html" and note == b"<html>moved</html>"

    with duckdb.connect(str(first.catalog), read_only=True) as con:
        before = con.sql("select url, title, text, content_hash from documents order by url").fetchall()
        rejects = con.sql("select count(*) from rejects").fetchone()
        warc_files = {f for (f,) in con.sql("select distinct warc_file from documents").fetchall()}
    assert len(before) == 5 and rejects == (0,)
    assert all(f.startswith("raw/source=wire/") and (tmp_path / "wh" / f).is_file() for f in warc_files)
    shutil.rmtree(tmp_path / "wh" / "documents")
    again = reextract(str(config))  # no network: the servers are gone
    assert again.sources["wire"].written == 5 and again.sources["wire"].rejected == 0
    with duckdb.connect(str(again.catalog), read_only=True) as con:
        after = con.sql("select url, title, text, content_hash from documents order by url").fetchall()
    assert after == before
