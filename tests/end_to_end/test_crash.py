"""A crash mid-run (SIGKILL, no chance to clean up) loses nothing: committed files stay valid, nothing
partial is visible, and a re-run gives exactly the articles of one clean run."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from command import start_corpus
from sites import write_site

from flows.ingest import ingest

pytestmark = pytest.mark.e2e


def committed_rows(folder: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in folder.rglob("*.parquet"))


def articles(catalog: str) -> list[tuple]:
    with duckdb.connect(catalog, read_only=True) as con:
        return con.execute(
            "select doc_id, canonical_url, content_hash, title from articles order by doc_id"
        ).fetchall()


def test_sigkill_halfway_then_rerun_equals_one_clean_run(
    tmp_path: Path, make_config, temporary_server: None
) -> None:
    """The default path (no Prefect server configured): the CLI, its extraction workers and its temporary
    Prefect server killed together."""
    write_site(tmp_path / "site", 160)
    config = make_config(
        '[warehouse]\npath = "wh"\n[runner]\nbatch_size = 10\n'
        '[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\nurl_prefix = "https://"\n'
    )
    documents = tmp_path / "wh" / "documents"
    process = start_corpus("ingest", "--config", config, start_new_session=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(documents.rglob("*.parquet")):
        assert process.poll() is None, f"ingest ended before it could be killed: {process.stderr.read()}"
        assert time.monotonic() < deadline, "no file committed within 120 s"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)  # the CLI, its extraction workers and Prefect's server with it
    process.wait()

    stored = committed_rows(documents)
    assert 0 < stored < 160, f"{stored} rows committed: the kill did not land halfway"

    recorded = committed_rows(tmp_path / "wh" / "inputs") if (tmp_path / "wh" / "inputs").exists() else 0
    assert recorded <= stored  # a file is recorded only after its pages are committed
    rerun = ingest(str(config))
    assert rerun.sources["site"].written == 160 - stored
    assert rerun.sources["site"].seen == 160 - recorded  # the files recorded before the kill are skipped
    clean = ingest(str(config), warehouse=str(tmp_path / "clean"))
    assert articles(rerun.catalog) == articles(clean.catalog)
    assert len(articles(rerun.catalog)) == 160

    with duckdb.connect(rerun.catalog, read_only=True) as con:
        statuses = con.execute("select status from runs order by run_id").fetchall()
        assert statuses == [("interrupted",), ("completed",)]
        assert con.execute("select count(*) from documents").fetchone() == (160,)
        # a file is in `inputs` only once its pages are committed: the re-run read the others, and now
        # every file is recorded once, as after the clean run
        assert con.execute("select count(*), count(distinct path) from inputs").fetchone() == (160, 160)
    assert ingest(str(config)).sources["site"].seen == 0
    leftovers = [
        p
        for p in (tmp_path / "wh").rglob("*")
        if p.is_file() and (p.name.endswith(".tmp") or "_staging" in p.parts)
    ]
    assert leftovers == []
