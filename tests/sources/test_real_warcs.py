"""warcio's own test archives (../shared/bench/real-warcs: CI has them, a user's clone does not, so these
tests skip without them), as one `warc` source through the `corpus` command: no traceback and no library
warning on the console, every HTTP 200 HTML response that warcio reads accounted for, the gzip-encoded
example.com pages stored with their text, and only the damaged files named in the one-line failure."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from command import corpus

REAL = Path(__file__).resolve().parents[3] / "shared" / "bench" / "real-warcs"
# The README's damaged files that break off as readers read them. Its third, bad.arc, is not damaged as a
# file (warcio reads its three records): each of its records has an ARC length that is no length (-1, abc),
# so each is an `unreadable` reject of its own, and the file is not named.
DAMAGED = {"example-trunc.warc"}

pytestmark = [
    pytest.mark.flow,
    pytest.mark.skipif(not REAL.is_dir(), reason="../shared/bench/real-warcs is not beside the repo"),
]


def warcio_html_responses() -> set[tuple[str, str]]:
    """(file, url) of every HTTP 200 HTML response warcio reads, bodies decoded, until a file breaks."""
    from warcio.archiveiterator import ArchiveIterator

    found = set()
    for path in sorted(REAL.glob("*.*arc*")):
        try:
            with open(path, "rb") as stream:
                for record in ArchiveIterator(stream, arc2warc=True):
                    if record.rec_type != "response" or not record.http_headers:
                        continue
                    status = record.http_headers.get_statuscode()
                    content_type = record.http_headers.get_header("Content-Type") or ""
                    body = record.content_stream().read()
                    if status == "200" and content_type.startswith("text/html") and body:
                        url = record.rec_headers.get_header("WARC-Target-URI").strip("<>")
                        found.add((path.name, url))
        except Exception:  # warcio gives up on this file here (damaged, or one gzip member)
            continue
    return found


def test_real_archives_through_the_cli(tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(
        f'[warehouse]\npath = "{tmp_path / "wh"}"\n[[sources]]\nname = "real"\nkind = "warc"\n'
        f'path = "{REAL}/*"\narticles_only = false\nmin_words = 0\n'
    )
    result = corpus("ingest", "-c", config)
    assert result.returncode == 1  # the damaged files fail the source
    assert "Traceback" not in result.stderr + result.stdout
    assert "WARNING" not in result.stderr and "Replacing spaces" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: source 'real'")]
    assert len(errors) == 1, result.stderr
    named = {path.name for path in REAL.glob("*.*arc*") if path.name in errors[0]}
    assert named == DAMAGED, errors[0]
    assert "offset" in errors[0]

    with duckdb.connect(str(tmp_path / "wh" / "corpus.duckdb"), read_only=True) as con:
        documents = con.sql("select url, origin, text from documents").fetchall()
        rejects = con.sql("select url, origin, reason from rejects").fetchall()
        skipped = con.sql("select skipped from run_sources").fetchone()[0]
    stored_urls = {url for url, _, _ in documents}
    by_file = {(origin.rsplit("/", 1)[1].split("#")[0], url) for url, origin, *_ in [*documents, *rejects]}
    for name, url in warcio_html_responses():
        # a document or a reject from this file, or the same page stored from another file (a duplicate)
        assert (name, url) in by_file or url.replace(" ", "%20") in stored_urls, (name, url)
    bad_arc = [reason for _, origin, reason in rejects if "/bad.arc#" in origin]
    assert bad_arc and set(bad_arc) == {"unreadable"}, rejects
    example = [text for url, _, text in documents if url == "http://example.com/"]
    assert example and "illustrative examples" in example[0]  # decoded from gzip Content-Encoding
    assert {reason for *_, reason in rejects} >= {"revisit", "not_html", "http_302", "unreadable"}
    assert skipped > 10  # requests, metadata, resources, warcinfo
