"""Full-text search: BM25 over titles and texts with SQLite's FTS5 (in Python's standard library).

The index lives beside the catalog in search.sqlite: an FTS5 table over title and text (Porter stemmer,
accents folded) that stores no text of its own, a row per document with what a result shows (source,
date, title, URL, cluster, and the documents file to read the snippet's text from), and the documents
files indexed so far. A refresh indexes only the documents files it has not seen, so it costs what the
last ingest added; it is idempotent per document, so files merged by `compact` only have their rows
re-pointed at the merged file. SQLite's write-ahead log lets searches run while a refresh writes.

Results are articles: the best-matching stored page of each cluster (exact and near copies of one
article), with the number of stored pages in its cluster.

Why not DuckDB's fts extension: its index cannot be updated (every refresh rebuilt it whole), and on a
warehouse of 20,000 synthetic articles a build took 10 s and a query 0.17 s, growing with the corpus
(tests/bench/bench_warehouse.py); FTS5 answers in milliseconds there and in well under 0.5 s at a million.
"""

from __future__ import annotations

import re
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.warehouse import DOCUMENTS, Warehouse

SNIPPET_CHARS = 240
INDEX_VERSION = "1"
BUSY_SECONDS = 120  # a refresh waits this long for another one writing the index
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
        ("published_at", pa.date32()),
        ("url", pa.string()),
        ("copies", pa.int64()),
        ("snippet", pa.string()),
    ]
)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS index_info (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS docs (
    rowid INTEGER PRIMARY KEY,      -- the doc_id's 64 bits
    doc_id TEXT NOT NULL,
    cluster_id TEXT NOT NULL,
    source TEXT,
    published_at TEXT,              -- YYYY-MM-DD
    title TEXT,
    url TEXT,
    file_id INTEGER NOT NULL        -- files.id: where the text is
);
CREATE INDEX IF NOT EXISTS docs_cluster ON docs (cluster_id);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(
    title, text, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


class SearchUnavailable(RuntimeError):
    """Search cannot run here; the message says why in one line."""


@dataclass(frozen=True)
class Refresh:
    added: int  # documents indexed by this refresh
    documents: int  # documents in the index
    seconds: float


def index_path(store: Warehouse) -> Path:
    return Path(store.catalog).with_name("search.sqlite")


def _open(store: Warehouse) -> sqlite3.Connection:
    path = index_path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=BUSY_SECONDS, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        con.executescript(_SCHEMA)
        version = con.execute("SELECT value FROM index_info WHERE key = 'version'").fetchone()
        if version is None:
            con.execute("INSERT INTO index_info VALUES ('version', ?)", [INDEX_VERSION])
        elif version[0] != INDEX_VERSION:
            raise SearchUnavailable(f"{path} was built by another version: delete it and run corpus ingest")
    except sqlite3.OperationalError as exc:
        con.close()
        if "fts5" in str(exc):
            raise SearchUnavailable(
                f"search is unavailable: this Python's SQLite lacks FTS5 ({exc})"
            ) from None
        raise SearchUnavailable(f"search index {path}: {exc}") from None
    return con


def refresh(store: Warehouse, progress: bool = False) -> Refresh:
    """Index the documents files not indexed yet (all of them the first time)."""
    started = time.monotonic()
    with closing(_open(store)) as con:
        known = dict(con.execute("SELECT path, id FROM files"))
        current = sorted(store.files(DOCUMENTS))
        added = 0
        for number, path in enumerate(p for p in current if p not in known):
            added += _index_file(con, store, path)
            if progress and number % 50 == 0:
                print(f"\r  search index: {added:,} documents added", end="", flush=True)
        gone = [known[p] for p in set(known) - set(current)]
        if gone:  # merged by compact: their documents were re-pointed at the merged file
            con.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in gone])
        total = con.execute("SELECT count(*) FROM docs").fetchone()[0]
    if progress and added:
        print()
    return Refresh(added, total, round(time.monotonic() - started, 3))


def _index_file(con: sqlite3.Connection, store: Warehouse, path: str) -> int:
    """Index one documents file's rows; rows already indexed (from files since merged) are re-pointed."""
    parquet = pq.ParquetFile(store.fs.open_input_file(path))
    doc_ids = parquet.read(columns=["doc_id"]).column(0)
    source = path.split("/source=", 1)[1].split("/", 1)[0] if "/source=" in path else None
    ids = _row_ids(doc_ids)
    con.execute("BEGIN IMMEDIATE")
    try:
        file_id = con.execute("INSERT INTO files (path) VALUES (?) RETURNING id", [path]).fetchone()[0]
        indexed: set[int] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500].tolist()
            marks = ",".join("?" * len(chunk))
            indexed.update(
                r[0] for r in con.execute(f"SELECT rowid FROM docs WHERE rowid IN ({marks})", chunk)
            )
        if indexed:
            con.executemany("UPDATE docs SET file_id = ? WHERE rowid = ?", [(file_id, i) for i in indexed])
        fresh = np.asarray([i not in indexed for i in ids.tolist()], dtype=bool)
        if not fresh.any():
            con.execute("COMMIT")
            return 0
        table = parquet.read(columns=["doc_id", "cluster_id", "published_at", "title", "url", "text"])
        if not fresh.all():
            table = table.filter(pa.array(fresh))
            ids = ids[fresh]
        clusters = pc.coalesce(table.column("cluster_id"), table.column("doc_id"))
        dates = pc.strftime(pc.cast(table.column("published_at"), pa.timestamp("s")), "%Y-%m-%d")
        rows = zip(
            ids.tolist(),
            table.column("doc_id").to_pylist(),
            clusters.to_pylist(),
            dates.to_pylist(),
            table.column("title").to_pylist(),
            table.column("url").to_pylist(),
            strict=True,
        )
        con.executemany(
            "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (rowid, doc_id, cluster, source, day, title, url, file_id)
                for rowid, doc_id, cluster, day, title, url in rows
            ),
        )
        con.executemany(
            "INSERT INTO terms (rowid, title, text) VALUES (?, ?, ?)",
            zip(
                ids.tolist(), table.column("title").to_pylist(), table.column("text").to_pylist(), strict=True
            ),
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return table.num_rows


def _row_ids(doc_ids: pa.ChunkedArray) -> np.ndarray:
    """SQLite rowids: the 64 bits of each doc_id (16 hex digits), as signed integers."""
    from flows.dedup import first16, hex64

    return hex64(first16(doc_ids)).view(np.int64)


def search(
    store: Warehouse, words: str, source: str | None = None, since: date | None = None, limit: int = 10
) -> pa.Table:
    """The best-matching page of each matching article, best first: score, title, source, published_at,
    url, copies, snippet. All the words must match; when no article has them all, any of them."""
    terms = [w.lower() for w in _WORD.findall(words)]
    if not terms:
        raise SearchUnavailable("nothing to search for: give at least one word")
    if not index_path(store).exists():
        refresh(store)
    meaningful = [t for t in terms if t not in STOPWORDS] or terms
    quoted = [f'"{t}"' for t in dict.fromkeys(meaningful)]
    with closing(_open(store)) as con:
        rows = _best_per_article(con, " ".join(quoted), source, since, limit)
        if not rows and len(quoted) > 1:
            rows = _best_per_article(con, " OR ".join(quoted), source, since, limit)
        copies = _copies(con, [r["cluster_id"] for r in rows])
        paths = dict(con.execute("SELECT id, path FROM files"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(pool.map(lambda r: store.read_text(paths.get(r["file_id"], ""), r["doc_id"]), rows))
    return pa.Table.from_pylist(
        [
            {
                "score": round(-row["rank"], 3),
                "title": row["title"],
                "source": row["source"],
                "published_at": date.fromisoformat(row["published_at"]) if row["published_at"] else None,
                "url": row["url"],
                "copies": copies.get(row["cluster_id"], 1),
                "snippet": snippet(text or "", words),
            }
            for row, text in zip(rows, texts, strict=True)
        ],
        schema=RESULT_SCHEMA,
    )


def _best_per_article(
    con: sqlite3.Connection, match: str, source: str | None, since: date | None, limit: int
) -> list[dict]:
    """The top `limit` clusters, fetching more matches while copies of one article fill the page."""
    wanted = limit * 4
    while True:
        cursor = con.execute(
            """
            SELECT docs.rowid, docs.doc_id, docs.cluster_id, docs.source, docs.published_at, docs.title,
                   docs.url, docs.file_id, bm25(terms, 2.0, 1.0) AS rank
            FROM terms JOIN docs ON docs.rowid = terms.rowid
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
        best: dict[str, dict] = {}
        for row in found:
            best.setdefault(row["cluster_id"], row)
        if len(best) >= limit or len(found) < wanted:
            return list(best.values())[:limit]
        wanted *= 4


def _copies(con: sqlite3.Connection, clusters: list[str]) -> dict[str, int]:
    if not clusters:
        return {}
    marks = ",".join("?" * len(clusters))
    return dict(
        con.execute(
            f"SELECT cluster_id, count(*) FROM docs WHERE cluster_id IN ({marks}) GROUP BY 1", clusters
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
