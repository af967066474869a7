"""The full-text index of the warehouse (search.sqlite beside the catalog), kept current by ingests and
compaction, read by `corpus search` (flows/analyst/search.py).

It lives beside the catalog in search.sqlite: an FTS5 table over title and text (Porter stemmer,
accents folded) that stores no text of its own, a row per document with what a result shows (source,
date, title, URL, cluster, and the documents file to read the snippet's text from), and the documents
files indexed so far. A refresh indexes only the documents files it has not seen, so it costs what the
last ingest added; it is idempotent per document, so files merged by `compact` only have their rows
re-pointed at the merged file. SQLite's write-ahead log lets searches run while a refresh writes.

File paths are stored relative to the documents folder, so a copied, moved or mounted warehouse searches
its own files. The index is derived data: one built by another version, or one naming documents whose
files are gone (deleted, or a copy of a warehouse without them), is rebuilt by the next refresh.

Why not DuckDB's fts extension: its index cannot be updated (every refresh rebuilt it whole), and on a
warehouse of 20,000 synthetic articles a build took 10 s and a query 0.17 s, growing with the corpus
(tests/bench/bench_warehouse.py); FTS5 answers in milliseconds there and in well under 0.5 s at a million.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from flows.errors import SearchUnavailable
from flows.warehouse.ids import first16, hex64
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import DOCUMENTS

INDEX_VERSION = "3"  # 3: paths relative to the documents folder
BUSY_SECONDS = 120  # a refresh waits this long for another one writing the index
_SCHEMA = """
CREATE TABLE IF NOT EXISTS index_info (key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS docs (
    id INTEGER PRIMARY KEY,         -- sequential: the FTS rowid (small deltas keep the index compact)
    doc_key INTEGER NOT NULL,       -- the doc_id's 64 bits (doc ids are 16 hex digits)
    cluster_key INTEGER NOT NULL,   -- the cluster_id's
    source TEXT,
    published_at TEXT,              -- YYYY-MM-DD: the publication day (documents.published_date)
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


@dataclass(frozen=True)
class Refresh:
    added: int  # documents indexed by this refresh
    documents: int  # documents in the index
    seconds: float


def index_path(warehouse: Warehouse) -> Path:
    return Path(warehouse.catalog).with_name("search.sqlite")


def open_index(warehouse: Warehouse, read_only: bool = False) -> sqlite3.Connection:
    """The index, created or upgraded as needed; `read_only`: an existing index opened for reading only
    (immutable: a warehouse that cannot be written has no writer to wait for)."""
    path = index_path(warehouse)
    if read_only:
        try:
            return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        except sqlite3.Error as exc:
            raise SearchUnavailable(f"search index {path}: {exc}") from None
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
            _reset(con)  # built by another version: built again by the refresh that follows
    except sqlite3.OperationalError as exc:
        con.close()
        if "fts5" in str(exc):
            raise SearchUnavailable(
                f"search is unavailable: this Python's SQLite lacks FTS5 ({exc})"
            ) from None
        raise SearchUnavailable(f"search index {path}: {exc}") from None
    return con


def _reset(con: sqlite3.Connection) -> None:
    """Empty the index (autocommit: each statement is its own transaction; a failure leaves the version
    unset, so the next open resets again)."""
    con.execute("DELETE FROM index_info")
    for table in ("terms", "docs", "files"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.executescript(_SCHEMA)
    con.execute("INSERT INTO index_info VALUES ('version', ?)", [INDEX_VERSION])


def relative(warehouse: Warehouse, path: str) -> str:
    """A documents file's path as the index stores it: relative to the documents folder."""
    folder = warehouse.path(DOCUMENTS.name) + "/"
    return path[len(folder) :] if path.startswith(folder) else path


def full_path(warehouse: Warehouse, stored: str) -> str:
    return warehouse.path(DOCUMENTS.name, stored)


def refresh(warehouse: Warehouse, progress: Callable[[int], None] | None = None) -> Refresh:
    """Index the documents files not indexed yet (all of them the first time); `progress` is called with
    the documents added so far after each batch. Rebuilds the index when documents it names are gone."""
    started = time.monotonic()
    with closing(open_index(warehouse)) as con:
        added = _refresh(con, warehouse, progress)
        if con.execute("SELECT 1 FROM docs WHERE file_id NOT IN (SELECT id FROM files) LIMIT 1").fetchone():
            _reset(con)  # documents deleted from the warehouse, or a copy without them
            added = _refresh(con, warehouse, progress)
        total = con.execute("SELECT count(*) FROM docs").fetchone()[0]
    return Refresh(added, total, round(time.monotonic() - started, 3))


def _refresh(con: sqlite3.Connection, warehouse: Warehouse, progress: Callable[[int], None] | None) -> int:
    known = dict(con.execute("SELECT path, id FROM files"))
    current = sorted(relative(warehouse, p) for p in warehouse.files(DOCUMENTS))
    added = pending = 0
    con.execute("BEGIN IMMEDIATE")
    try:
        for path in (p for p in current if p not in known):
            count, seen = _index_file(con, warehouse, path)
            added += count
            pending += seen
            if pending >= BATCH_DOCUMENTS:
                con.execute("COMMIT")
                con.execute("BEGIN IMMEDIATE")
                pending = 0
                if progress is not None:
                    progress(added)
        gone = [known[p] for p in set(known) - set(current)]
        # files merged by compact: their documents were re-pointed at the merged file (the others make
        # the caller rebuild)
        con.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in gone])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return added


def _index_file(con: sqlite3.Connection, warehouse: Warehouse, path: str) -> tuple[int, int]:
    """Index one documents file's rows (inside the caller's transaction); rows already indexed (from files
    since merged into this one) are re-pointed at it. `path`: relative (see `relative`). Returns (rows
    added, rows seen)."""
    parquet = pq.ParquetFile(warehouse.fs.open_input_file(full_path(warehouse, path)))
    keys = keys_of(parquet.read(columns=["doc_id"]).column(0))
    source = path.split("source=", 1)[1].split("/", 1)[0] if path.startswith("source=") else None
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
    # the publication day: published_date, or published_at in files of schema version 2 (tables.DOCUMENTS)
    day = "published_date" if "published_date" in parquet.schema_arrow.names else "published_at"
    table = parquet.read(columns=["doc_id", "cluster_id", day, "title", "url", "text"])
    if not fresh.all():
        table = table.filter(pa.array(fresh))
        keys = keys[fresh]
    clusters = keys_of(pc.coalesce(table.column("cluster_id"), table.column("doc_id")))
    dates = pc.strftime(pc.cast(table.column(day), pa.timestamp("s")), "%Y-%m-%d")
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


def keys_of(hex_ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """64-bit SQLite integers from ids of 16 hex digits (doc_id, cluster_id)."""
    return hex64(first16(hex_ids)).view(np.int64)
