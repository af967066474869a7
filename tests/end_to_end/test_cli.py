"""The `corpus` command as a user runs it: a subprocess, real output."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from command import corpus
from sites import write_site

from flows.ingest import ingest


@pytest.fixture
def ingested(tmp_path: Path, make_config) -> Path:
    write_site(tmp_path / "site", 3)
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\nurl_prefix = "https://"\n'
    )
    ingest(str(config))
    return config


@pytest.mark.flow
def test_sql_formats(ingested: Path) -> None:
    query = "select url, word_count, tags from articles order by url"
    as_json = corpus("sql", query, "--config", str(ingested), "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [r["url"] for r in rows] == [f"https://news.test/2025/story-{i}.html" for i in range(3)]
    assert all(isinstance(r["word_count"], int) for r in rows)

    as_csv = corpus("sql", query, "--config", str(ingested), "--format", "csv")
    table = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert table[0] == ["url", "word_count", "tags"] and len(table) == 4

    as_table = corpus("sql", "select count(*) as n from articles", "--config", str(ingested))
    assert as_table.returncode == 0 and " 3 " in as_table.stdout and "1 row" in as_table.stdout


@pytest.mark.flow
def test_sql_is_read_only_and_errors_are_one_line(ingested: Path) -> None:
    write = corpus("sql", "create table t as select 1", "--config", str(ingested))
    assert write.returncode == 1
    assert "read-only" in write.stderr and "Traceback" not in write.stderr
    bad = corpus("sql", "select nope from articles", "--config", str(ingested))
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1 and "nope" in bad.stderr


@pytest.mark.flow
def test_warehouse_override_views_and_sources_list(ingested: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-wh"
    views = corpus("views", "--config", str(ingested), "--warehouse", str(other))
    assert views.returncode == 0 and (other / "corpus.duckdb").exists()
    empty = corpus(
        "sql",
        "select count(*) from documents",
        "--config",
        str(ingested),
        "-w",
        str(other),
        "-f",
        "csv",
    )
    assert empty.stdout.splitlines()[1] == "0"
    listing = corpus("sources", "list", "--config", str(ingested))
    assert listing.returncode == 0 and "site" in listing.stdout and "files" in listing.stdout


@pytest.mark.e2e
def test_cli_ingest_prints_a_summary_and_no_traceback(
    tmp_path: Path, make_config, temporary_server: None
) -> None:
    write_site(tmp_path / "site", 2)
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\n'
    )
    result = corpus("ingest", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "error" not in result.stderr.lower()
    line = next(row for row in result.stdout.splitlines() if row.strip().startswith("site"))
    assert line.split()[:7] == ["site", "completed", "2", "2", "0", "0", "2"]
