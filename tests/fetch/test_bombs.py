"""A compressed body costs at most its limit: decompression bombs in every content encoding the fetcher
decodes (gzip, deflate, br, zstd) and an endless chunked body, eight of each fetched at once, are
`too_large` rejects, and the ingest (all its processes together) peaks within 600 MB of the same ingest of
eight ordinary pages. Before, the decoders ran a whole network chunk at once: a 32 KB zstd body reached
2.1 GB."""

from __future__ import annotations

import contextlib
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import brotli
import duckdb
import psutil
import pytest
import zstandard
from command import start_corpus
from web_site import SiteServer

pytestmark = pytest.mark.e2e

MB = 1 << 20
BOMB_MB = 512  # decompressed size of each bomb (the pages' limit, max_bytes, is 10 MB)
AT_ONCE = 8


def compressed(encoding: str) -> bytes:
    zeros = bytes(MB)
    if encoding in ("gzip", "deflate"):
        packer = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
        return b"".join(packer.compress(zeros) for _ in range(BOMB_MB)) + packer.flush()
    if encoding == "br":
        brotli_packer = brotli.Compressor(quality=5)
        return b"".join(brotli_packer.process(zeros) for _ in range(BOMB_MB)) + brotli_packer.finish()
    zstd_packer = zstandard.ZstdCompressor(level=3).compressobj()
    return b"".join(zstd_packer.compress(zeros) for _ in range(BOMB_MB)) + zstd_packer.flush()


def endless_chunks() -> Iterator[bytes]:
    """BOMB_MB of HTML, chunked: no Content-Length, no compression, just more than the limit."""
    piece = b"<p>" + b"x" * (MB - 7) + b"</p>"
    for _ in range(BOMB_MB):
        yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    yield b"0\r\n\r\n"


class PeakMemory(threading.Thread):
    """The peak of a process's RSS and all its descendants' together, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
            except psutil.Error:
                return
            total = 0
            for member in tree:
                with contextlib.suppress(psutil.Error):
                    total += member.memory_info().rss
            self.peak = max(self.peak, total)
            time.sleep(0.02)


def ingest_peak(folder: Path, urls: list[str]) -> tuple[int, int, str]:
    """`corpus ingest` of a urls source: (return code, peak RSS of its process tree, stderr)."""
    folder.mkdir()
    (folder / "urls.txt").write_text("\n".join(urls) + "\n")
    config = folder / "sources.toml"
    config.write_text(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "s"\nkind = "urls"\nfile = "urls.txt"\n'
        f"allow_private = true\ndelay = 0\nretries = 0\nconcurrency = {AT_ONCE}\n"
        f"host_concurrency = {AT_ONCE}\narticles_only = false\n"
    )
    process = start_corpus("ingest", "-c", config)
    memory = PeakMemory(process.pid)
    memory.start()
    _, stderr = process.communicate(timeout=600)
    memory.done.set()
    memory.join()
    return process.returncode, memory.peak, stderr


def test_bombs_in_every_encoding_cost_at_most_their_limit(tmp_path: Path) -> None:
    with SiteServer() as site:
        for i in range(AT_ONCE):
            site.set_article(i, seed=700 + i)
        ordinary = [site.article_url(i) for i in range(AT_ONCE)]
        bombs = []
        for encoding in ("gzip", "deflate", "br", "zstd"):
            body = compressed(encoding)
            headers = [("Content-Type", "text/html"), ("Content-Encoding", encoding)]
            headers.append(("Content-Length", str(len(body))))
            for k in range(AT_ONCE):
                site.raw[f"/bomb/{encoding}/{k}.html"] = (200, headers, body)
                bombs.append(f"{site.base}/bomb/{encoding}/{k}.html")
        for k in range(AT_ONCE):
            chunked = [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")]
            site.raw[f"/bomb/chunked/{k}.html"] = (200, chunked, endless_chunks)
            bombs.append(f"{site.base}/bomb/chunked/{k}.html")

        code, baseline, stderr = ingest_peak(tmp_path / "ordinary", ordinary)
        assert code == 0, stderr
        by_encoding = [bombs[i::AT_ONCE] for i in range(AT_ONCE)]  # each group: one bomb of each kind
        code, peak, stderr = ingest_peak(
            tmp_path / "bombs", [*ordinary, *(b for group in by_encoding for b in group)]
        )
    above = (peak - baseline) / MB
    print(f"peak RSS: {baseline / MB:.0f} MB for {AT_ONCE} pages; {peak / MB:.0f} MB with the bombs")
    assert code == 0, stderr
    assert "Traceback" not in stderr
    with duckdb.connect(str(tmp_path / "bombs" / "wh" / "corpus.duckdb"), read_only=True) as con:
        reasons = dict(con.execute("select url, reason from rejects").fetchall())
        written = con.execute("select written from run_sources").fetchone()
    assert written == (AT_ONCE,)
    assert {url: reasons.get(url) for url in bombs} == dict.fromkeys(bombs, "too_large")
    assert above <= 600, f"the bombs took {above:.0f} MB above the ordinary ingest"
