"""The same inputs give the same clusters, whatever order the units finish in and however many extraction
processes there are: originals in the first units, their syndicated and edited copies in later ones, with
the first units held back in one run and the later ones in another."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pytest
from sites import make_article, syndicated_page, write_site

from flows.ingest import ingest
from flows.run import unit as unit_extraction

pytestmark = pytest.mark.flow


def corpus(root: Path) -> None:
    """12 articles; a syndicated copy of each (another template, a note added), and an edited copy of
    every third (a sentence dropped): 28 pages, 7 units of 4 files."""
    urls = write_site(root, 12)
    for seed, url in enumerate(urls):
        article = make_article(seed)
        copy = root / "wire.test" / f"{seed:02d}.html"
        copy.parent.mkdir(parents=True, exist_ok=True)
        copy.write_text(syndicated_page(article, f"https://wire.test/{seed:02d}.html", url, "Republished."))
        if seed % 3 == 0:
            edited = article.__class__(
                article.slug, article.title, article.author, article.date, article.paragraphs[:-1]
            )
            page = root / "zine.test" / f"{seed:02d}.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(
                syndicated_page(
                    edited, f"https://zine.test/{seed:02d}.html", f"https://zine.test/{seed:02d}.html"
                )
            )


def run(tmp_path: Path, name: str, slow: str, processes: int, monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Ingest the corpus into its own warehouse, units whose first file is under `slow` started late."""
    original = unit_extraction._extract_items

    def held_back(items, unit, *args, **kwargs):
        if unit.inputs and f"/{slow}/" in unit.inputs[0].path:
            time.sleep(1.5)
        return original(items, unit, *args, **kwargs)

    monkeypatch.setattr(unit_extraction, "_extract_items", held_back)
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'[warehouse]\npath = "{name}"\n[runner]\nbatch_size = 4\n[extract]\nprocesses = {processes}\n'
        '[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\nurl_prefix = "https://"\n'
    )
    summary = ingest(str(config))
    assert summary.sources["site"].status == "completed", summary.sources["site"]
    with duckdb.connect(summary.catalog, read_only=True) as con:
        return (
            con.execute(
                "select url, cluster_id, duplicate_of, similarity from documents order by url"
            ).fetchall()
            + con.execute("select cluster_id, copies from articles order by cluster_id").fetchall()
        )


def test_clusters_do_not_depend_on_which_unit_finishes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus(tmp_path / "site")
    originals_late = run(tmp_path, "a", "news.test", 2, monkeypatch)
    copies_late = run(tmp_path, "b", "wire.test", 2, monkeypatch)
    one_process = run(tmp_path, "c", "zine.test", 1, monkeypatch)
    assert originals_late == copies_late == one_process
    documents = [row for row in originals_late if len(row) == 4]
    assert len(documents) == 28
    joined = [row for row in documents if row[2] is not None]
    assert len(joined) >= 12  # the copies joined their originals' clusters
    # in either run the originals open the clusters: their units come first in discovery order
    assert {row[0].split("/")[2] for row in documents if row[2] is None} == {"news.test"}
