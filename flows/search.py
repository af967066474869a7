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
INDEX_VERSION = "2"
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
    id INTEGER PRIMARY KEY,         -- sequential: the FTS rowid (small deltas keep the index compact)
    doc_key INTEGER NOT NULL,       -- the doc_id's 64 bits (doc ids are 16 hex digits)
    cluster_key INTEGER NOT NULL,   -- the cluster_id's
    source TEXT,
    published_at TEXT,              -- YYYY-MM-DD
    title TEXT,
    url TEXT,
    file_id INTEGER NOT NULL        -- files.id: where the text is
);
CREATE UNIQUE INDEX IF NOT EXISTS docs_key ON docs (doc_key);
CREATE INDEX IF NOT EXISTS docs_cluster ON docs (cluster_key);
CREATE VIRTUAL TABLE IF NOT EXISTS terms USING fts5(
    title, text, content = '', tokenize = 'porter unicode61 remove_diacritics 2'
);
"""
BATCH_DOCUMENTS = 20_000  # per write transaction: FTS5 writes a segment per transaction


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
        added = pending = 0
        con.execute("BEGIN IMMEDIATE")
        try:
            for path in (p for p in current if p not in known):
                count, seen = _index_file(con, store, path)
                added += count
                pending += seen
                if pending >= BATCH_DOCUMENTS:
                    con.execute("COMMIT")
                    con.execute("BEGIN IMMEDIATE")
                    pending = 0
                    if progress:
                        print(f"\r  search index: {added:,} documents added", end="", flush=True)
            gone = [known[p] for p in set(known) - set(current)]
            # files merged by compact: their documents were re-pointed at the merged file
            con.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in gone])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        total = con.execute("SELECT count(*) FROM docs").fetchone()[0]
    if progress and added:
        print()
    return Refresh(added, total, round(time.monotonic() - started, 3))


def _index_file(con: sqlite3.Connection, store: Warehouse, path: str) -> tuple[int, int]:
    """Index one documents file's rows (inside the caller's transaction); rows already indexed (from files
    since merged into this one) are re-pointed at it. Returns (rows added, rows seen)."""
    parquet = pq.ParquetFile(store.fs.open_input_file(path))
    keys = _keys(parquet.read(columns=["doc_id"]).column(0))
    source = path.split("/source=", 1)[1].split("/", 1)[0] if "/source=" in path else None
    file_id = con.execute("INSERT INTO files (path) VALUES (?) RETURNING id", [path]).fetchone()[0]
    indexed: set[int] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500].tolist()
        marks = ",".join("?" * len(chunk))
        indexed.update(
            r[0] for r in con.execute(f"SELECT doc_key FROM docs WHERE doc_key IN ({marks})", chunk)
        )
    if indexed:
        con.executemany("UPDATE docs SET file_id = ? WHERE doc_key = ?", [(file_id, k) for k in indexed])
    fresh = np.asarray([k not in indexed for k in keys.tolist()], dtype=bool)
    if not fresh.any():
        return 0, len(keys)
    table = parquet.read(columns=["doc_id", "cluster_id", "published_at", "title", "url", "text"])
    if not fresh.all():
        table = table.filter(pa.array(fresh))
        keys = keys[fresh]
    clusters = _keys(pc.coalesce(table.column("cluster_id"), table.column("doc_id")))
    dates = pc.strftime(pc.cast(table.column("published_at"), pa.timestamp("s")), "%Y-%m-%d")
    first = con.execute("SELECT coalesce(max(id), 0) + 1 FROM docs").fetchone()[0]
    ids = range(first, first + table.num_rows)
    titles = table.column("title").to_pylist()
    con.executemany(
        "INSERT INTO docs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        zip(
            ids,
            keys.tolist(),
            clusters.tolist(),
            [source] * table.num_rows,
            dates.to_pylist(),
            titles,
            table.column("url").to_pylist(),
            [file_id] * table.num_rows,
            strict=True,
        ),
    )
    con.executemany(
        "INSERT INTO terms (rowid, title, text) VALUES (?, ?, ?)",
        zip(ids, titles, table.column("text").to_pylist(), strict=True),
    )
    return table.num_rows, len(fresh)


def _keys(hex_ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """64-bit SQLite integers from ids of 16 hex digits (doc_id, cluster_id)."""
    from flows.dedup import first16, hex64

    return hex64(first16(hex_ids)).view(np.int64)


def _hex(key: int) -> str:
    return f"{key & 0xFFFFFFFFFFFFFFFF:016x}"


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
        copies = _copies(con, [r["cluster_key"] for r in rows])
        paths = dict(con.execute("SELECT id, path FROM files"))
    with ThreadPoolExecutor(max_workers=4) as pool:
        texts = list(
            pool.map(lambda r: store.read_text(paths.get(r["file_id"], ""), _hex(r["doc_key"])), rows)
        )
    return pa.Table.from_pylist(
        [
            {
                "score": round(-row["rank"], 3),
                "title": row["title"],
                "source": row["source"],
                "published_at": date.fromisoformat(row["published_at"]) if row["published_at"] else None,
                "url": row["url"],
                "copies": copies.get(row["cluster_key"], 1),
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
        best: dict[int, dict] = {}
        for row in found:
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
