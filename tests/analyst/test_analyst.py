"""The analysts' side: the SQL shell driven through a pipe, output formats, read-only refusal, full-text
search, the Python API, stats, and the example queries of docs/views.md, on the offline sample."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from command import CORPUS, corpus, corpus_at_terminal
from conftest import Sample

from flows.analyst import query
from flows.warehouse import connect

pytestmark = pytest.mark.flow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample(sample_warehouse: Sample) -> Path:
    """The session's sample warehouse (its config)."""
    return sample_warehouse.config


def test_example_queries_in_the_docs_run_as_written(sample: Path) -> None:
    text = (REPO / "docs" / "views.md").read_text()
    examples = re.findall(r"```sql\n(.*?)```", text, re.DOTALL)
    assert len(examples) == 10
    with connect(sample) as con:
        results = [query.run(con, sql) for sql in examples]
    assert sum(1 for r in results if r.num_rows) >= 8  # the sample has rows for nearly all of them
    per_day, _syndicated, copied, authors, phrase = results[:5]
    assert per_day.num_rows and authors.num_rows
    assert copied.num_rows >= 2  # the seed article's syndicated copy and edited republication
    assert sum(phrase.column("articles").to_pylist()) >= 1  # "border trade"


def test_shell_through_a_pipe(sample: Path) -> None:
    script = (
        ".views\n"
        ".schema articles\n"
        "select source,\n       count(*) as n\nfrom articles\ngroup by source order by source;\n"
        ".format csv\n"
        "select count(*) as total from articles;\n"
        "delete from articles;\n"
        "select 1 as last"  # no ';' at the end of input: still runs
    )
    result = corpus("sql", "-c", str(sample), stdin=script)
    assert result.returncode == 1  # the DELETE failed
    out = result.stdout
    assert "articles" in out and "daily_counts" in out and "one row per article" in out
    assert "published_at" in out and "DATE" in out  # .schema
    assert re.search(r"sample\s+\d+", out) and "sample-archive" in out
    total = (
        duckdb.connect(str(sample.parent / "wh" / "corpus.duckdb"), read_only=True)
        .sql("select count(*) from articles")
        .fetchone()[0]
    )
    assert f"total\n{total}\n" in out  # csv after .format csv
    assert "last\n1" in out
    # errors go to stderr (seen: to stdout, mixed into the results a script reads)
    assert "read-only" in result.stderr and "error" not in out, (out, result.stderr)
    assert "read-only: DELETE statements are not allowed" in result.stderr


@pytest.mark.parametrize(
    "statement",
    [
        "copy (select 1) to '/tmp/corpus-test-copy.csv'",
        "attach '/tmp/corpus-test.db' as other",
        "create table t as select 1",
        "insert into articles select * from articles",
        "set threads = 1",
        "load fts",
        "select 1; drop view articles",
    ],
)
def test_writes_are_refused(sample: Path, statement: str) -> None:
    result = corpus("sql", statement, "-c", str(sample))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1 and "read-only" in result.stderr
    assert not Path("/tmp/corpus-test-copy.csv").exists()


def test_formats_and_output_files(sample: Path, tmp_path: Path) -> None:
    sql = "select doc_id, title, tags, published_at, word_count from articles order by doc_id"
    with connect(sample) as con:
        expected = con.sql(sql).fetchall()
    for fmt in ("csv", "json", "parquet", "table"):
        target = tmp_path / f"out.{fmt}"
        result = corpus("sql", sql, "-c", str(sample), "--format", fmt, "--output", str(target))
        assert result.returncode == 0, result.stderr
        assert f"{len(expected)} rows written" in result.stderr
    assert pq.read_table(tmp_path / "out.parquet").num_rows == len(expected)
    assert pq.read_table(tmp_path / "out.parquet").column("doc_id").to_pylist() == [r[0] for r in expected]
    rows = json.loads((tmp_path / "out.json").read_text())
    assert [r["doc_id"] for r in rows] == [r[0] for r in expected] and isinstance(rows[0]["tags"], list)
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "doc_id,title,tags,published_at,word_count"
    assert expected[0][0] in (tmp_path / "out.table").read_text()
    code, _, error = corpus_at_terminal("sql", sql, "-c", str(sample), "--format", "parquet")
    assert code == 2 and "--output" in error and "redirect stdout" in error  # binary to a terminal: no
    with (tmp_path / "redirected.parquet").open("wb") as redirected:  # `corpus sql ... > file`: yes
        done = subprocess.run(
            [str(CORPUS), "sql", sql, "-c", str(sample), "--format", "parquet"],
            stdout=redirected,
            check=False,
        )
    assert done.returncode == 0
    assert pq.read_table(tmp_path / "redirected.parquet").equals(pq.read_table(tmp_path / "out.parquet"))


def test_search_ranks_the_matching_article_first(sample: Path) -> None:
    result = corpus("search", "border trade routes", "-c", str(sample), "--format", "json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits[0]["title"] == "India and China Quietly Reopen Border Trade Routes"
    assert "border trade" in hits[0]["snippet"].lower()
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    # filters: another source, a date after the article, and words found nowhere
    archive = json.loads(corpus("search", "taliban", "-c", str(sample), "-s", "sample", "-f", "json").stdout)
    assert archive and {h["source"] for h in archive} == {"sample"}
    later = json.loads(
        corpus("search", "border trade", "-c", str(sample), "--since", "2025-07-06", "-f", "json").stdout
    )
    assert all(h["published_date"] >= "2025-07-06" for h in later)
    assert "India and China Quietly Reopen Border Trade Routes" not in [h["title"] for h in later]
    nothing = corpus("search", "zyzzyva quokka", "-c", str(sample))
    assert nothing.returncode == 0 and "0 results" in nothing.stdout
    table = corpus("search", "taliban", "-c", str(sample), "-n", "1")
    assert "1." in table.stdout and "1 result" in table.stdout


def test_python_api_is_read_only_with_every_view(sample: Path) -> None:
    with connect(sample) as con:
        views = {r[0] for r in con.sql("select view_name from duckdb_views() where not internal").fetchall()}
        assert {"articles", "documents", "rejects", "runs", "sources", "daily_counts"} <= views
        assert con.sql("select count(*) from articles").fetchone()[0] > 5
        with pytest.raises(duckdb.Error):
            con.execute("create table t as select 1")
    # pandas/polars/pyarrow can read the Parquet folder directly too
    table = pq.read_table(sample.parent / "wh" / "documents")
    assert {"doc_id", "text", "source", "month"} <= set(table.column_names)


def test_stats(sample: Path) -> None:
    result = corpus("stats", "-c", str(sample))
    assert result.returncode == 0, result.stderr
    for heading in ("on disk", "per source", "per day", "rejects by reason", "duplicates %", "no_text"):
        assert heading in result.stdout
