"""Full-text search: BM25 over titles and texts with SQLite's FTS5, through the warehouse's search index
(flows/warehouse/search_index.py). Results are articles: the best-matching stored page of each cluster
(exact and near copies of one article), with the number of stored pages in its cluster.
"""

from __future__ import annotations

import re
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import date
from typing import Any

import pyarrow as pa

from flows.errors import SearchUnavailable
from flows.warehouse.search_index import full_path, index_path, open_index, refresh, relative
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import DOCUMENTS

__all__ = ["SearchUnavailable", "search", "snippet"]

SNIPPET_CHARS = 240  # a snippet: about two lines of a terminal, three sentences of news
_WORD = re.compile(r"\w+")
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "he",
        "her",
        "his",
        "i",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "she",
        "that",
        "the",
        "their",
        "them",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "which",
        "who",
        "will",
        "with",
        "you",
        "your",
    ]
)
RESULT_SCHEMA = pa.schema(
    [
        ("score", pa.float64()),
        ("title", pa.string()),
        ("source", pa.string()),
        ("published_date", pa.date32()),
        ("url", pa.string()),
        ("copies", pa.int64()),
        ("snippet", pa.string()),
    ]
)


def _hex(key: int) -> str:
    return f"{key & 0xFFFFFFFFFFFFFFFF:016x}"


def search(
    warehouse: Warehouse, words: str, source: str | None = None, since: date | None = None, limit: int = 10
) -> pa.Table:
    """The best-matching page of each matching article, best first: score, title, source, published_date,
    url, copies, snippet. All the words must match; when no article has them all, any of them."""
    terms = [w.lower() for w in _WORD.findall(words)]
    if not terms:
        raise SearchUnavailable("nothing to search for: give at least one word")
    warehouse.require_existing("corpus search")
    read_only = not warehouse.writable()  # a read-only warehouse is searched as its index stands
    if read_only and not index_path(warehouse).exists():
        raise SearchUnavailable(
            f"warehouse {warehouse.root} has no search index and cannot be written: run corpus ingest "
            "(or corpus search) once where it can"
        )
    if not read_only:
        refresh(warehouse)  # brings it up to the documents files (a listing when nothing changed)
    meaningful = [t for t in terms if t not in STOPWORDS] or terms
    quoted = [f'"{t}"' for t in dict.fromkeys(meaningful)]
    with closing(open_index(warehouse, read_only)) as con:
        paths = dict(con.execute("SELECT id, path FROM files"))
        present = None
        if read_only:  # an index that could not be refreshed: documents whose files are gone are left out
            here = {relative(warehouse, p) for p in warehouse.files(DOCUMENTS)}
            present = {i for i, p in paths.items() if p in here}
        rows = _best_per_article(con, " ".join(quoted), source, since, limit, present)
        if not rows and len(quoted) > 1:
            rows = _best_per_article(con, " OR ".join(quoted), source, since, limit, present)
        copies = _copies(con, [r["cluster_key"] for r in rows])
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(
            pool.map(
                lambda r: warehouse.read_text(full_path(warehouse, paths[r["file_id"]]), _hex(r["doc_key"])),
                rows,
            )
        )
    return pa.Table.from_pylist(
        [
            {
                "score": round(-row["rank"], 3),
                "title": row["title"],
                "source": row["source"],
                "published_date": date.fromisoformat(row["published_at"]) if row["published_at"] else None,
                "url": row["url"],
                "copies": copies.get(row["cluster_key"], 1),
                "snippet": snippet(text or "", words),
            }
            for row, text in zip(rows, texts, strict=True)
        ],
        schema=RESULT_SCHEMA,
    )


def _best_per_article(
    con: sqlite3.Connection,
    match: str,
    source: str | None,
    since: date | None,
    limit: int,
    present: set[int] | None = None,
) -> list[dict[str, Any]]:
    """The top `limit` clusters, fetching more matches while copies of one article fill the page; only
    documents in the files `present` when given."""
    wanted = limit * 4
    while True:
        cursor = con.execute(
            """
            SELECT docs.doc_key, docs.cluster_key, docs.source, docs.published_at, docs.title,
                   docs.url, docs.file_id, bm25(terms, 2.0, 1.0) AS rank
            FROM terms JOIN docs ON docs.id = terms.rowid
            WHERE terms MATCH :match
              AND (:source IS NULL OR docs.source = :source)
              AND (:since IS NULL OR docs.published_at >= :since)
            ORDER BY rank, docs.published_at DESC
            LIMIT :wanted
            """,
            {
                "match": match,
                "source": source,
                "since": since.isoformat() if since else None,
                "wanted": wanted,
            },
        )
        names = [c[0] for c in cursor.description]
        found = [dict(zip(names, r, strict=True)) for r in cursor]
        best: dict[int, dict[str, Any]] = {}
        for row in found:
            if present is None or row["file_id"] in present:
                best.setdefault(row["cluster_key"], row)
        if len(best) >= limit or len(found) < wanted:
            return list(best.values())[:limit]
        wanted *= 4


def _copies(con: sqlite3.Connection, clusters: list[int]) -> dict[int, int]:
    if not clusters:
        return {}
    marks = ",".join("?" * len(clusters))
    return dict(
        con.execute(
            f"SELECT cluster_key, count(*) FROM docs WHERE cluster_key IN ({marks}) GROUP BY 1", clusters
        )
    )


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
