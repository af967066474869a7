"""Full-text search over the articles: BM25 on title and text with DuckDB's fts extension.

The index lives in its own file beside the catalog (search.duckdb): a table with one row per article (the
`articles` view's representative) and the fts index over it. DuckDB's fts index cannot be updated in
place, so a refresh rebuilds it into a new file and renames it over the old one (searches running
meanwhile keep the old file); a refresh when no documents file changed since the last build does nothing.
Which documents files an index was built from is noted in a small file beside it (search.state.json), so
that `compact`, which renames files without changing a row, can carry a current index over.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from flows import duckdb_extensions
from flows.duckdb_extensions import ExtensionUnavailable
from flows.warehouse import DOCUMENTS, Warehouse

SNIPPET_CHARS = 240
_WORD = re.compile(r"\w+")


class SearchUnavailable(RuntimeError):
    """Search cannot run here; the message says why in one line."""


@dataclass(frozen=True)
class Refresh:
    built: bool
    articles: int
    seconds: float


def index_path(store: Warehouse) -> Path:
    return Path(store.catalog).with_name("search.duckdb")


def state_path(store: Warehouse) -> Path:
    return Path(store.catalog).with_name("search.state.json")


def state(store: Warehouse) -> str:
    """A fingerprint of the committed documents files (names are unique and files immutable)."""
    names = sorted(store.files(DOCUMENTS))
    return hashlib.blake2b("\n".join(names).encode(), digest_size=16).hexdigest()


def refresh(store: Warehouse, force: bool = False) -> Refresh:
    """Rebuild the index if documents changed since it was built (or `force`)."""
    started = time.monotonic()
    path = index_path(store)
    current = state(store)
    built = _built_for(store)
    if path.exists() and not force and built is not None and built["state"] == current:
        return Refresh(False, built["articles"], time.monotonic() - started)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    try:
        with duckdb.connect(str(temp)) as con:
            _load_fts(con)
            if not store.local:
                duckdb_extensions.load(con, "httpfs")
            con.execute(f"ATTACH '{_escape(store.catalog)}' AS catalog (READ_ONLY)")
            con.execute(
                "CREATE TABLE search_docs AS SELECT doc_id, title, text, source, published_at, url, copies "
                "FROM catalog.articles"
            )
            con.execute("DETACH catalog")
            count = con.execute("select count(*) from search_docs").fetchone()[0]
            con.execute(
                "PRAGMA create_fts_index('search_docs', 'doc_id', 'title', 'text', stemmer = 'porter', "
                "stopwords = 'english', strip_accents = 1, lower = 1, overwrite = 1)"
            )
            con.execute("CHECKPOINT")
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    _note_built_for(store, current, count)
    return Refresh(True, count, time.monotonic() - started)


def carry_over(store: Warehouse, before: str) -> bool:
    """After files were renamed with every row kept (compaction): an index that was current for the files
    `before` is current for the files now."""
    built = _built_for(store)
    if built is None or built["state"] != before or not index_path(store).exists():
        return False
    _note_built_for(store, state(store), built["articles"])
    return True


def _built_for(store: Warehouse) -> dict | None:
    try:
        noted = json.loads(state_path(store).read_text())
        return noted if {"state", "articles"} <= noted.keys() else None
    except (OSError, ValueError):
        return None


def _note_built_for(store: Warehouse, files_state: str, articles: int) -> None:
    path = state_path(store)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps({"state": files_state, "articles": articles}))
    os.replace(temp, path)


def search(
    store: Warehouse, words: str, source: str | None = None, since: date | None = None, limit: int = 10
) -> pa.Table:
    """Best matches first: score, title, source, published_at, url, copies, snippet."""
    if not _WORD.search(words):
        raise SearchUnavailable("nothing to search for: give at least one word")
    path = index_path(store)
    if not path.exists():
        refresh(store)
    with duckdb.connect(str(path), read_only=True) as con:
        _load_fts(con)
        result = con.execute(
            """
            SELECT round(score, 3) AS score, title, source, published_at, url, copies, text
            FROM (
                SELECT *, fts_main_search_docs.match_bm25(doc_id, $words) AS score
                FROM search_docs
                WHERE ($source IS NULL OR source = $source)
                  AND ($since IS NULL OR published_at >= $since)
            )
            WHERE score IS NOT NULL
            ORDER BY score DESC, published_at DESC NULLS LAST
            LIMIT $limit
            """,
            {"words": words, "source": source, "since": since, "limit": limit},
        ).to_arrow_table()
    snippets = [snippet(text or "", words) for text in result.column("text").to_pylist()]
    return result.drop_columns(["text"]).append_column("snippet", pa.array(snippets, pa.string()))


def snippet(text: str, words: str, width: int = SNIPPET_CHARS) -> str:
    """The stretch of text around the first paragraph with the most query words."""
    terms = {w.lower() for w in _WORD.findall(words)}
    best, best_hits = text[:width], 0
    for paragraph in text.split("\n"):
        tokens = [w.lower() for w in _WORD.findall(paragraph)]
        hits = sum(1 for t in tokens if any(t.startswith(term[: max(4, len(term) - 2)]) for term in terms))
        if hits > best_hits:
            best, best_hits = paragraph, hits
    if len(best) <= width:
        return best
    first = min(
        (
            m.start()
            for term in terms
            for m in re.finditer(re.escape(term[: max(4, len(term) - 2)]), best.lower())
        ),
        default=0,
    )
    start = max(0, first - width // 3)
    return ("…" if start else "") + best[start : start + width].strip() + "…"


def _load_fts(con: duckdb.DuckDBPyConnection) -> None:
    try:
        duckdb_extensions.load(con, "fts")
    except ExtensionUnavailable as exc:
        raise SearchUnavailable(f"search is unavailable: {exc}") from None


def _escape(path: str) -> str:
    return path.replace("'", "''")
