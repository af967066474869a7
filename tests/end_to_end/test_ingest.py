"""End to end through real Prefect flow runs, real Parquet files and real DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from sites import make_article, news_page, syndicated_page, write_site

from flows.ingest import ingest, summary_of
from flows.warehouse import Warehouse
from flows.warehouse.views import build_views

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def site_config(tmp_path: Path, make_config) -> Path:
    """Six articles, a syndicated copy of the first, an AMP-style edition of the second (same canonical),
    and a page with no text."""
    root = tmp_path / "site"
    urls = write_site(root, 6)
    first, second = make_article(0), make_article(1)
    wire = root / "wire.test" / "s" / "0.html"
    wire.parent.mkdir(parents=True)
    wire.write_text(syndicated_page(first, "https://wire.test/s/0.html", urls[0]))
    amp = root / "news.test" / "2025" / "story-1.amp.html"
    amp.write_text(news_page(second, "https://news.test/2025/story-1.amp.html", canonical=urls[1]))
    (root / "news.test" / "empty.html").write_text("<html><body><div id='app'></div></body></html>")
    return make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\nurl_prefix = "https://"\n'
    )


def query(catalog: str, sql: str) -> list[tuple]:
    with duckdb.connect(catalog, read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.mark.flow
def test_ingest_dedups_and_a_second_run_adds_nothing(site_config: Path, tmp_path: Path, monkeypatch) -> None:
    summary = ingest(str(site_config))
    stats = summary.sources["site"]
    assert (stats.seen, stats.extracted, stats.rejected, stats.duplicates, stats.written) == (9, 8, 1, 2, 7)
    catalog = summary.catalog
    assert query(catalog, "select count(*) from articles") == [(6,)]
    assert query(catalog, "select count(*) from documents where duplicate_of is not null") == [(1,)]
    assert query(catalog, "select reason from rejects") == [("no_text",)]
    first_cluster = "(select cluster_id from documents where url like '%story-0.html')"
    assert query(catalog, f"select copies from articles where cluster_id = {first_cluster}") == [(2,)]
    texts = query(catalog, "select text from articles")
    assert all("uncle sam" not in t for (t,) in texts)

    # unchanged files are not read again; a full pass reads them and stores nothing new
    again = ingest(str(site_config)).sources["site"]
    assert (again.seen, again.written, again.duplicates, again.rejected) == (0, 0, 0, 0)
    full = ingest(str(site_config), full=True).sources["site"]
    assert (full.seen, full.written, full.duplicates, full.rejected) == (9, 0, 8, 1)
    assert query(catalog, "select count(*) from articles") == [(6,)]
    assert query(catalog, "select count(*), count(distinct run_id) from documents") == [(7, 1)]
    assert query(catalog, "select reason from rejects") == [("no_text",)]  # once per page and reason
    runs = query(catalog, "select status, seen, written from runs order by run_id")
    assert runs == [("completed", 9, 7), ("completed", 0, 0), ("completed", 9, 0)]
    inputs = query(catalog, "select count(*), sum(records), sum(documents), sum(rejects) from inputs")
    assert inputs == [(9, 9, 8, 1)]  # one row per file; its first run's pages (the full pass read them again)

    # the views work from any directory, read-only
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with duckdb.connect(str(Path(catalog)), read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone() == (6,)
        assert {r[0] for r in con.execute("select source from sources").fetchall()} == {"site"}
        assert con.execute("select sum(articles) from daily_counts").fetchone() == (6,)


@pytest.mark.flow
def test_an_analyst_holding_the_catalog_open_does_not_block_an_ingest(site_config: Path) -> None:
    catalog = ingest(str(site_config)).catalog
    analyst = duckdb.connect(catalog, read_only=True)
    try:
        assert analyst.execute("select count(*) from runs").fetchone() == (1,)
        ingest(str(site_config))  # rebuilds the catalog while the analyst's connection is open
        assert analyst.execute("select count(*) from articles").fetchone() == (6,)
    finally:
        analyst.close()
    assert query(catalog, "select count(*) from runs") == [(2,)]


@pytest.mark.flow
def test_one_failing_source_does_not_fail_another(tmp_path: Path, make_config) -> None:
    write_site(tmp_path / "site", 2)
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "missing"\nkind = "warc"\npath = "nothing-here/*.warc.gz"\n'
        '[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\nurl_prefix = "https://"\n'
    )
    state = ingest(str(config), return_state=True)  # Prefect's state says what happened
    assert state.is_failed() and state.message.startswith("1 of 2 sources failed: missing: ")
    assert "the other sources' work is committed: 2 written" in state.message
    summary = summary_of(state)
    assert summary.status == "partly failed"
    assert summary.sources["missing"].status == "failed"
    assert "no .warc" in summary.sources["missing"].error
    assert summary.sources["site"].status == "completed" and summary.sources["site"].written == 2
    assert query(summary.catalog, "select status, errors like '%missing: source%' from runs") == [
        ("failed", True)
    ]


@pytest.mark.unit
def test_views_read_files_written_with_fewer_columns(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "wh"))
    old = pa.table(
        {
            "doc_id": ["old1"],
            "url": ["https://old.test/a"],
            "canonical_url": ["https://old.test/a"],
            "text": ["An article stored before language and tags existed."],
            "content_hash": ["h"],
            "fetched_at": pa.array([0], pa.timestamp("us", tz="UTC")),
            "run_id": ["r0"],
        }
    )
    warehouse.publish(
        old, warehouse.path("documents", "source=legacy", "month=2024-01", "part-r0-00001.parquet")
    )
    build_views(warehouse)
    rows = query(warehouse.catalog, "select doc_id, source, month, language, tags, word_count from documents")
    assert rows == [("old1", "legacy", "2024-01", None, None, None)]
    assert query(warehouse.catalog, "select count(*) from articles") == [(1,)]


@pytest.mark.unit
def test_empty_warehouse_has_working_views(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "wh"))
    created = build_views(warehouse)
    assert {"documents", "articles", "rejects", "runs", "sources", "daily_counts"} <= set(created)
    for view in created:
        assert query(warehouse.catalog, f"select count(*) from {view}") == [(0,)]


@pytest.mark.unit
def test_catalog_is_rebuilt_only_when_what_it_is_built_from_changes(tmp_path: Path) -> None:
    """An ingest checks the catalog instead of rebuilding it when its statements are the same: the same SQL
    files, the same files of the tables (the views name them). A new file, an edited view file, or a
    catalog from before fingerprints is rebuilt."""
    import shutil

    warehouse = Warehouse(str(tmp_path / "wh"))
    sql_dir = tmp_path / "sql"
    shutil.copytree(REPO / "sql", sql_dir)
    catalog = Path(warehouse.catalog)
    build_views(warehouse, sql_dir)

    def rebuilt() -> bool:  # a rebuild swaps in a new file (the old one is alive until then: a new inode)
        before = catalog.stat().st_ino
        build_views(warehouse, sql_dir, only_if_changed=True)
        return catalog.stat().st_ino != before

    assert not rebuilt()
    warehouse.publish(
        pa.table({"doc_id": ["a"], "text": ["t"], "run_id": ["r"]}),
        warehouse.path("documents", "source=s", "month=2025-01", "part-r-00001.parquet"),
    )
    assert rebuilt()  # documents has files now: its view reads them
    assert query(str(catalog), "select count(*) from documents") == [(1,)]
    warehouse.publish(
        pa.table({"doc_id": ["b"], "text": ["u"], "run_id": ["r"]}),
        warehouse.path("documents", "source=s", "month=2025-02", "part-r-00002.parquet"),
    )
    assert rebuilt()  # one more file: the views name the files they read
    assert query(str(catalog), "select count(*) from documents") == [(2,)]
    assert not rebuilt()
    (sql_dir / "sources.sql").write_text((sql_dir / "sources.sql").read_text() + "\n-- edited\n")
    assert rebuilt()
    with duckdb.connect(str(catalog)) as con:  # as a catalog written before fingerprints
        con.execute("DROP VIEW internal.fingerprint")
    assert rebuilt()
    assert not rebuilt()


@pytest.mark.unit
def test_new_files_replace_only_their_tables_base_views(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files added to a table: the catalog is a copy with that table's base view replaced (the views, their
    comments and the other base views as they were), unless the base view's columns would change."""
    from flows.warehouse import views

    warehouse = Warehouse(str(tmp_path / "wh"))
    catalog = Path(warehouse.catalog)
    build_views(warehouse)
    outcomes: list[bool] = []
    patched = views._patched
    monkeypatch.setattr(views, "_patched", lambda *a: outcomes.append(patched(*a)) or outcomes[-1])
    warehouse.publish(
        pa.table({"doc_id": ["a"], "text": ["t"], "run_id": ["r"]}),
        warehouse.path("documents", "source=s", "month=2025-01", "part-r-00001.parquet"),
    )
    build_views(warehouse, only_if_changed=True)
    assert outcomes == [True]
    assert query(str(catalog), "select count(*) from documents") == [(1,)]
    comments = "select count(*) from duckdb_columns() where table_name = 'articles' and comment is not null"
    assert query(str(catalog), comments)[0][0] > 10  # the views' column comments came with the copy
    assert query(str(catalog), "select count(*) from internal.files") == [(1,)]
    assert len(query(str(catalog), "select * from internal.built")) == 1 + len(views.TABLES)
    base = views.base_view_sql  # documents' base view gains a column: the views bound to it must be rebuilt
    monkeypatch.setattr(
        views,
        "base_view_sql",
        lambda w, table, groups: (
            base(w, table, groups).replace("SELECT CAST", "SELECT 1 AS extra, CAST", 1)
            if table.name == "documents"
            else base(w, table, groups)
        ),
    )
    build_views(warehouse, only_if_changed=True)
    assert outcomes == [True, False]
    assert query(str(catalog), "select extra from internal.documents where doc_id = 'a'") == [(None,)]
    assert query(str(catalog), "select count(*) from documents") == [(1,)]


@pytest.mark.flow
def test_default_sample(tmp_path: Path) -> None:
    """The shipped sample: the seed article once, its copies found, comment and menus gone."""
    summary = ingest(str(REPO / "seeds" / "sources.toml"), warehouse=str(tmp_path / "wh"))
    assert summary.ok
    # the commit step's time (its thread's CPU within it) is part of the summary, for the scaling study
    assert 0 < summary.commit_cpu_seconds <= summary.commit_seconds + 0.01 < summary.seconds
    catalog = summary.catalog
    assert query(catalog, "select count(*) from articles") == [(10,)]  # the edited update joined the seed
    seed = query(
        catalog, "select text, author, copies from articles where title like 'Russia''s Recognition%'"
    )
    assert len(seed) == 1
    text, author, copies = seed[0]
    assert author == "Salman Rafi Sheikh" and copies == 3  # syndicated copy, edited update (AMP: same page)
    assert text.startswith("As millions of Afghans struggle with chronic food insecurity")
    assert "recognition from foreign powers—however strategic—will remain hollow." in text
    assert "uncle sam" not in text.lower()
    for furniture in ("Subscribe", "Privacy policy", "Related Stories", "Share on X", "Log in"):
        assert furniture not in text
    reasons = dict(query(catalog, "select reason, count(*) from rejects group by reason"))
    assert reasons == {"no_text": 2, "not_html": 1, "http_404": 1}
    total = summary.total()
    assert total.duplicates == 4 and total.written == 13
