"""A warehouse on an S3-compatible server (moto_server on 127.0.0.1), configured as users do: the standard
AWS_* variables, nothing written for DuckDB by hand. Ingest writes there; `corpus sql`, `stats` and
`search` read it back; the local-folder result is the same."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from command import SAMPLE_SOURCE

from flows.prefect_server import free_port

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
        httpx.put(f"{endpoint}/corpus-wh", timeout=10).raise_for_status()  # the bucket
        yield env
    finally:
        server.terminate()
        server.wait(10)


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "corpus"), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in {**os.environ, **env}.items() if k != "PREFECT_API_URL"},
    )


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
    # the same on a Dask LocalCluster: its workers stage their chunks in the bucket
    dask = tmp_path / "dask.toml"
    dask.write_text(
        f'[warehouse]\npath = "s3://corpus-wh/dask"\ncatalog = "dask/corpus.duckdb"\n'
        f'[runner]\nkind = "dask"\nworkers = 2\n{sources}'
    )
    done = run(s3, "ingest", "-c", str(dask))
    assert done.returncode == 0, done.stderr
    assert run(s3, "sql", "-c", str(dask), "--format", "csv", query).stdout == here.stdout
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
