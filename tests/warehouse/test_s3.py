"""A warehouse and inputs on an S3-compatible server (moto_server on 127.0.0.1), configured as users do: the
standard AWS_* variables, nothing written for DuckDB by hand. Ingest reads the inputs from the bucket and
writes there, with threads and on a Dask cluster; `corpus sql`, `stats` and `search` read it back; the
rows are those of the same files ingested from a local folder."""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.fs as pafs
import pytest
from command import REPO, SAMPLE_SOURCE, corpus
from sites import warc_bytes, write_warc_corpus

from flows.prefect_server import free_port

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    if shutil.which("moto_server", path=str(BIN)) is None:
        pytest.skip("moto_server (moto[server]) is not installed")
    port = free_port(0)
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        env = {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": endpoint,
        }
        for bucket in ("corpus-wh", "corpus-in"):  # the warehouse's and the inputs'
            httpx.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()
        yield env
    finally:
        server.terminate()
        server.wait(10)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return corpus(*args, env=env, timeout=300)


def test_an_s3_warehouse_works_end_to_end_with_the_aws_variables(s3: dict[str, str], tmp_path: Path) -> None:
    sources = SAMPLE_SOURCE
    remote = tmp_path / "s3.toml"
    remote.write_text(
        f'[warehouse]\npath = "s3://corpus-wh/corpus"\ncatalog = "local/corpus.duckdb"\n{sources}'
    )
    local = tmp_path / "local.toml"
    local.write_text(f'[warehouse]\npath = "wh"\n{sources}')
    done = run(s3, "ingest", "-c", str(remote))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert run({}, "ingest", "-c", str(local)).returncode == 0
    query = "select url, cluster_id, md5(text) from documents order by url"
    on_s3 = run(s3, "sql", "-c", str(remote), "--format", "csv", query)
    assert on_s3.returncode == 0, on_s3.stderr
    here = run({}, "sql", "-c", str(local), "--format", "csv", query)
    assert on_s3.stdout == here.stdout and len(on_s3.stdout.splitlines()) > 5
    stats = run(s3, "stats", "-c", str(remote))
    assert stats.returncode == 0 and "sample" in stats.stdout, stats.stderr
    found = run(s3, "search", "-c", str(remote), "myanmar")
    assert found.returncode == 0 and "0 results" not in found.stdout, found.stderr
    # a bucket that does not exist: one line before anything runs
    missing = tmp_path / "missing.toml"
    missing.write_text(f'[warehouse]\npath = "s3://no-such-bucket/c"\ncatalog = "m/corpus.duckdb"\n{sources}')
    done = run(s3, "ingest", "-c", str(missing))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "s3://no-such-bucket/c" in done.stderr and "not found" in done.stderr, done.stderr
    listing = httpx.get(
        f"{s3['AWS_ENDPOINT_URL']}/corpus-wh?list-type=2&prefix=corpus/documents/", timeout=10
    )
    assert ".parquet" in listing.text  # the documents are in the bucket, not on this machine
    assert not (tmp_path / "local" / "documents").exists()


def test_a_web_source_keeps_its_raw_archive_in_the_bucket_as_warc(s3: dict[str, str], tmp_path: Path) -> None:
    """Fetched pages go to raw/ in the bucket as the WARC.gz files they were written as (pyarrow would
    gzip a ".gz" object a second time unless told not to)."""
    from web_site import SiteServer

    config = tmp_path / "web.toml"
    with SiteServer() as site:
        config.write_text(
            '[warehouse]\npath = "s3://corpus-wh/web"\ncatalog = "web/corpus.duckdb"\n'
            f'[[sources]]\nname = "news"\nkind = "feed"\nurl = "{site.base}/feed.xml"\n'
            "allow_private = true\ndelay = 0\n"
        )
        done = run(s3, "ingest", "-c", str(config))
    assert done.returncode == 0, done.stderr
    fs = bucket(s3)
    raw = [
        info.path
        for info in fs.get_file_info(pafs.FileSelector("corpus-wh/web/raw", recursive=True))
        if info.type == pafs.FileType.File
    ]
    assert raw and all(path.endswith(".warc.gz") for path in raw), raw
    responses = 0
    for path in raw:
        with fs.open_input_file(path) as stream:
            data = stream.read()
        assert gzip.decompress(data).startswith(b"WARC/1"), path  # gzip once, not twice
        responses += gzip.decompress(data).count(b"WARC-Type: response")
    written = run(s3, "sql", "-c", str(config), "--format", "csv", "select count(*) from documents")
    assert responses >= int(written.stdout.split()[-1]) > 0, written.stdout


def bucket(env: dict[str, str]) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        access_key=env["AWS_ACCESS_KEY_ID"],
        secret_key=env["AWS_SECRET_ACCESS_KEY"],
        region=env["AWS_REGION"],
        endpoint_override=env["AWS_ENDPOINT_URL"].split("://")[1],
        scheme="http",
    )


def upload(env: dict[str, str], folder: Path, prefix: str) -> None:
    fs = bucket(env)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(folder).as_posix()}"
            with fs.open_output_stream(key, compression=None) as out:  # not gzipped again for a .gz name
                out.write(path.read_bytes())


def rows(env: dict[str, str], config: Path) -> dict[str, str]:
    queries = {
        "documents": "select doc_id, url, cluster_id, duplicate_of, md5(text) from documents order by doc_id",
        "articles": "select doc_id, copies from articles order by doc_id",
        "rejects": "select url, reason from rejects order by url, reason",
        "inputs": "select regexp_replace(path, '.*/', ''), records, documents from inputs order by 1",
    }
    found = {}
    for name, query in queries.items():
        done = run(env, "sql", "-c", str(config), "--format", "csv", query)
        assert done.returncode == 0, done.stderr
        found[name] = done.stdout
    return found


def test_inputs_and_warehouse_on_s3_give_the_local_rows_with_threads_and_dask(
    s3: dict[str, str], tmp_path: Path
) -> None:
    """WARC files (cut into byte-range units on the cluster) and HTML files read from the bucket, the
    warehouse in the bucket: the same rows as the same files in local folders; a second run reads
    nothing (the objects are unchanged); an object rewritten is read again."""
    write_warc_corpus(tmp_path / "crawl" / "2025", articles=90)
    upload(s3, tmp_path / "crawl", "corpus-in/crawl")
    upload(s3, REPO / "seeds" / "sample", "corpus-in/site")

    def sources(crawl: str, site: str) -> str:
        return (
            f'[[sources]]\nname = "archive"\nkind = "warc"\npath = "{crawl}/**/*.warc.gz"\n'
            f'[[sources]]\nname = "site"\nkind = "files"\npath = "{site}/**/*.html"\nurl_prefix = "https://"\n'
        )

    local = tmp_path / "local.toml"
    local.write_text(f'[warehouse]\npath = "wh"\n{sources(f"{tmp_path}/crawl", f"{REPO}/seeds/sample")}')
    assert run({}, "ingest", "-c", str(local)).returncode == 0
    expected = rows({}, local)
    assert expected["documents"].count("\n") > 100 and "a.warc.gz" in expected["inputs"]

    configs = {}
    for name, runner in (("threads", ""), ("dask", '[runner]\nkind = "dask"\nworkers = 2\n')):
        configs[name] = tmp_path / f"{name}.toml"
        configs[name].write_text(
            f'[warehouse]\npath = "s3://corpus-wh/{name}"\ncatalog = "{name}/corpus.duckdb"\n{runner}'
            f"{sources('s3://corpus-in/crawl', 's3://corpus-in/site')}"
        )
        done = run(s3, "ingest", "-c", str(configs[name]))
        assert done.returncode == 0, done.stderr
        assert rows(s3, configs[name]) == expected, name
    stats = run(s3, "stats", "-c", str(configs["dask"]))
    assert stats.returncode == 0 and "archive" in stats.stdout, stats.stderr
    found = run(s3, "search", "-c", str(configs["dask"]), "myanmar")
    assert found.returncode == 0 and "0 results" not in found.stdout, found.stderr

    # incremental: one object rewritten, that file alone read again (the others unchanged: not read)
    page = sorted((REPO / "seeds" / "sample").rglob("*.html"))[0]
    with bucket(s3).open_output_stream(
        f"corpus-in/site/{page.relative_to(REPO / 'seeds' / 'sample').as_posix()}", compression=None
    ) as out:
        out.write(page.read_bytes().replace(b"</body>", b"<p>An editor's note added later.</p></body>"))
    assert run(s3, "ingest", "-c", str(configs["threads"])).returncode == 0
    seen = run(
        s3,
        "sql",
        "-c",
        str(configs["threads"]),
        "--format",
        "csv",
        "select source, seen from run_sources order by run_id, source",
    )
    assert seen.returncode == 0, seen.stderr
    lines = seen.stdout.splitlines()[1:]
    assert lines[2:] == ["archive,0", "site,1"], seen.stdout


def test_remote_globs_and_every_archive_reader_match_local_files(
    s3: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Read in this process from the bucket: globs (`*`, `?`, `[...]`, `**`, none) list what the local glob
    lists; a WARC cut into byte ranges, a WARC compressed as one gzip member and an ARC give the pages, in
    the order and with the offsets, of the same local files; fingerprints agree."""
    from flows.records import Page
    from flows.sources import inputs, storage
    from flows.sources.warc import archive_items, one_gzip_member

    for name, value in s3.items():
        monkeypatch.setenv(name, value)
    folder = tmp_path / "in"
    rows = [
        (f"https://arch.test/{i}", "200 OK", "text/html", b"<html><body><p>page %d</p></body></html>" % i)
        for i in range(40)
    ]
    (folder / "x" / "y").mkdir(parents=True)
    (folder / "members.warc.gz").write_bytes(warc_bytes(rows))
    (folder / "x" / "one.warc.gz").write_bytes(gzip.compress(warc_bytes(rows, compress=False)))
    (folder / "x" / "y" / "plain.warc").write_bytes(warc_bytes(rows[:7], compress=False))
    head = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    arc = [b"filedesc://t.arc 0.0.0.0 20250712063000 text/plain %d\n" % len(head) + head + b"\n"]
    for i in range(3):
        body = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><p>arc %d</p></html>" % i
        arc.append(b"http://arch.test/arc%d 127.0.0.1 20250712063000 text/html %d\n" % (i, len(body)) + body)
    (folder / "x" / "old.arc.gz").write_bytes(b"".join(gzip.compress(r + b"\n") for r in arc))
    upload(s3, folder, "corpus-in/readers")
    remote = "s3://corpus-in/readers"

    def names(found: list[storage.FileStat], base: str) -> list[str]:
        return [f.path[len(base) :] for f in found]

    for pattern in ("*.warc.gz", "**/*.warc*", "x/*", "x/y/plain.warc", "x/[o]??.*", "**/*.arc.gz", "y/*"):
        here = names(storage.list_files(f"{folder}/{pattern}"), str(folder))
        there = names(storage.list_files(f"{remote}/{pattern}"), remote)
        assert here == there, pattern
    assert len(storage.list_files(f"{remote}/**/*")) == 4
    from flows.errors import SourceError

    with pytest.raises(SourceError, match=r"^s3://no-such-bucket/in/\*\.warc\.gz: cannot list: .*"):
        storage.list_files("s3://no-such-bucket/in/*.warc.gz")

    for name in ("members.warc.gz", "x/one.warc.gz", "x/y/plain.warc", "x/old.arc.gz"):
        path, uri = str(folder / name), f"{remote}/{name}"
        assert one_gzip_member(path) == one_gzip_member(uri), name
        assert inputs.current(path).fingerprint == inputs.current(uri).fingerprint, name
        here = [
            (p.url, p.html, p.origin.rsplit("#")[1])
            for item in archive_items(path, 1 << 20)
            for p in item.pages()
            if isinstance(p, Page)
        ]
        # the remote file read in many small byte ranges, as cluster workers read it
        items = archive_items(uri, 1 << 20)
        ranges = [
            type(item)(item.path, start, min(start + 300, item.end), item.max_bytes)  # type: ignore[attr-defined]
            for item in items
            if hasattr(item, "start")
            for start in range(item.start, item.end, 300)
        ] or items
        there = [
            (p.url, p.html, p.origin.rsplit("#")[1])
            for item in ranges
            for p in item.pages()
            if isinstance(p, Page)
        ]
        assert here == there and len(here) in (40, 7, 3), name


def test_the_query_layer_on_s3_reads_nothing_else_and_shows_no_secret(
    s3: dict[str, str], tmp_path: Path
) -> None:
    """Seen: a path with `..` read another bucket through the warehouse's allowed prefix, and
    current_setting('s3_secret_access_key') printed the secret (httpfs loads the AWS variables into
    settings anyone can read; the connection's own credentials are a redacted secret)."""
    secret = "s3cr3t-f0r-the-test"
    env = {**s3, "AWS_SECRET_ACCESS_KEY": secret}
    httpx.put(f"{s3['AWS_ENDPOINT_URL']}/corpus-other", timeout=10)
    httpx.put(f"{s3['AWS_ENDPOINT_URL']}/corpus-other/x.csv", content=b"a,b\n1,2\n", timeout=10)
    config = tmp_path / "s3.toml"
    config.write_text(
        f'[warehouse]\npath = "s3://corpus-wh/sealed"\ncatalog = "local/corpus.duckdb"\n{SAMPLE_SOURCE}'
    )
    assert run(env, "ingest", "-c", str(config)).returncode == 0
    for statement in (
        "select current_setting('s3_secret_access_key') as s",
        "select current_setting('s3_access_key_id') as s",
        "select name, value from duckdb_settings() where name like 's3%'",
        "select * from duckdb_secrets()",
    ):
        done = run(env, "sql", "-c", str(config), "--format", "csv", statement)
        assert secret not in done.stdout + done.stderr, statement
    for path in (
        "s3://corpus-wh/sealed/documents/../../../corpus-other/x.csv",
        "s3://corpus-wh/sealed/documents/./../../../corpus-other/x.csv",
        "s3://corpus-wh/sealed/documents/%2e%2e/%2e%2e/%2e%2e/corpus-other/x.csv",
        "s3://corpus-other/x.csv",
    ):
        done = run(env, "sql", "-c", str(config), "--format", "csv", f"select * from read_csv('{path}')")
        assert done.returncode != 0 and "1,2" not in done.stdout, (path, done.stdout)
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr, done.stderr
