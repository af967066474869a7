"""The dedup index on disk: what exact and near dedup need to know of every stored document, in an SQLite
database beside the catalog, queried by key. A commit looks up its own doc ids, text hashes, band keys and
paragraphs; memory is SQLite's page cache ([dedup] index_memory), whatever the warehouse holds, and opening
the index reads nothing in proportion to history.

    docs(doc, cluster, seq, file,   every document (64 bits of its doc_id) and its cluster; `stored` when
         stored)                    a documents file holds it; for a member of the near-duplicate index
                                    its order of arrival (seq: the first of equally similar candidates
                                    wins) and the documents file its text is read back from
    texts(text, first, cluster)     the first document of each text (64 bits of the content hash)
    bands(key, doc)                 LSH band key (band << 32 | value) → the member that has it
    recent(key, doc)                the same, for members recorded since `bands` last took them in: a
                                    small table that commits write (within the page cache), merged
                                    into `bands` in key order once it holds `recent_limit` rows
    paragraphs(slot, count)         near.ParagraphCounts' counters (how many stored texts have a paragraph)
    rejects(key)                    (source, page, reason) already recorded in `rejects`
    absorbed(path, part)            the Parquet files whose rows are in the index
    files(num, path)                the documents files members are read back from

The Parquet files are the truth; the index is derived from them. A commit publishes its files, then records
their rows here in one transaction. A file published but not recorded (a crash in between, another
machine's run) is absorbed from Parquet by the next refresh, and files that `compact` wrote are absorbed
again (idempotent: a document joins the index once; only its file is re-aimed). Files are named relative
to the warehouse's root, so a warehouse moved or copied with its index keeps it; an index whose files are
not the warehouse's (another warehouse's, or documents deleted), made with other signature settings or in
another format, or damaged, is rebuilt from the Parquet files. Absorbing stages the rows in temporary
tables, then applies them in key order: migrating a large warehouse writes each B-tree from left to right
rather than at random. A commit's 500 documents bring ~24,000 band keys at random places: written into
`bands` once the index outgrows its cache, they would dirty (and write twice, through the write-ahead log)
most of its pages at every commit; written into `recent`, they dirty a table that stays in the cache, and
each merge writes the pages of `bands` once for many commits (docs/scaling.md has the measurements).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from types import MappingProxyType
from typing import Any

import numpy as np

LOGGER = logging.getLogger("corpus.dedup")

FORMAT = 4  # bump when the tables change: an index of another format is rebuilt (4: `recent` band keys)
_PARAMS = 10_000  # keys per IN (...) list: well under SQLite's 32,766 variables
_ROWS = 65_536  # rows per executemany call: bounds the Python objects of one call (a few MB)
_RECENT_SHARE = 4  # `recent` is merged into `bands` when it would fill this fraction of the page cache
_BAND_ROW_BYTES = 32  # a band row's bytes on its page (two 64-bit keys, cell header and pointer, free space)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS docs(doc INTEGER PRIMARY KEY, cluster INTEGER, seq INTEGER, file INTEGER,
    stored INTEGER);
CREATE TABLE IF NOT EXISTS texts(text INTEGER PRIMARY KEY, first INTEGER NOT NULL, cluster INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS bands(key INTEGER, doc INTEGER, PRIMARY KEY(key, doc)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS recent(key INTEGER, doc INTEGER, PRIMARY KEY(key, doc)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS paragraphs(slot INTEGER PRIMARY KEY, count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rejects(key INTEGER PRIMARY KEY);
CREATE TABLE IF NOT EXISTS absorbed(path TEXT PRIMARY KEY, part TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS absorbed_part ON absorbed(part);
CREATE TABLE IF NOT EXISTS files(num INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE);
"""

_STAGING = MappingProxyType(
    {
        "s_docs": "doc INTEGER, cluster INTEGER",
        "s_texts": "ord INTEGER, text INTEGER, first INTEGER, cluster INTEGER",
        "s_members": "ord INTEGER, doc INTEGER, cluster INTEGER, file TEXT",
        "s_bands": "key INTEGER, doc INTEGER",
        "s_paragraphs": "ord INTEGER, slot INTEGER",
        "s_rejects": "key INTEGER",
        "s_absorbed": "path TEXT, part TEXT",
        "s_gone": "path TEXT",
    }
)

# Applying the staged rows, in this order (a member's documents file numbered before the member refers to
# it; the members that are new decided before they are recorded, so a paragraph is counted once a text and
# a member's band keys are written once: those of a member absorbed again are where they were).
_APPLY = (
    "INSERT INTO docs(doc, cluster, stored) SELECT doc, cluster, 1 FROM s_docs WHERE true ORDER BY doc "
    "ON CONFLICT(doc) DO UPDATE SET stored = 1",
    "INSERT OR IGNORE INTO texts SELECT text, first, cluster FROM s_texts ORDER BY ord",
    "INSERT OR IGNORE INTO files(path) SELECT DISTINCT file FROM s_members",
    "CREATE TEMP TABLE s_fresh AS SELECT min(ord) AS ord, doc FROM s_members m WHERE NOT EXISTS "
    "(SELECT 1 FROM docs d WHERE d.doc = m.doc AND d.seq IS NOT NULL) GROUP BY doc",
    "INSERT INTO paragraphs(slot, count) SELECT slot, count(*) FROM s_paragraphs "
    "WHERE ord IN (SELECT ord FROM s_fresh) GROUP BY slot ORDER BY slot "
    "ON CONFLICT(slot) DO UPDATE SET count = count + excluded.count",
    "INSERT INTO docs(doc, cluster, seq, file) SELECT m.doc, m.cluster, :base + m.ord, f.num "
    "FROM s_members m JOIN files f ON f.path = m.file WHERE true ORDER BY m.ord "
    "ON CONFLICT(doc) DO UPDATE SET file = excluded.file, seq = coalesce(docs.seq, excluded.seq)",
    "INSERT OR IGNORE INTO {bands} SELECT key, doc FROM s_bands WHERE doc IN (SELECT doc FROM s_fresh) "
    "ORDER BY key, doc",
    "INSERT OR IGNORE INTO rejects SELECT key FROM s_rejects ORDER BY key",
    "DELETE FROM absorbed WHERE path IN (SELECT path FROM s_gone)",
    "INSERT OR REPLACE INTO absorbed SELECT path, part FROM s_absorbed",
)


_META = (  # a new index's counters: next order of arrival, members, rows in `recent`
    "INSERT OR REPLACE INTO meta VALUES ('fingerprint', ?), ('next_seq', '0'), ('members', '0'), "
    "('recent', '0')"
)


def signed(values: np.ndarray) -> np.ndarray:
    """uint64 keys as SQLite's signed 64-bit integers (the same bits)."""
    return np.ascontiguousarray(values, dtype=np.uint64).view(np.int64)


def key_of(hex_id: str) -> int:
    """The index key of a doc_id or content hash: its first 16 hex digits as a signed 64-bit integer."""
    value = int(hex_id[:16], 16)
    return value - (1 << 64) if value >= 1 << 63 else value


def hex_of(key: int) -> str:
    """A doc_id (16 hex digits) from its index key."""
    return f"{key & 0xFFFFFFFFFFFFFFFF:016x}"


class DedupIndex:
    """One warehouse's dedup index (see the module's docstring). `fingerprint` names everything the stored
    keys depend on (signature settings, the warehouse): an index made under another one is rebuilt."""

    def __init__(self, path: str, fingerprint: dict[str, Any], memory_mb: int, root: str = "") -> None:
        self.path = path
        # Files are named relative to the warehouse's root: a warehouse moved or copied elsewhere (with
        # its index) keeps its index; one whose files differ finds them gone and rebuilds.
        self._prefix = root.rstrip("/") + "/" if root else ""
        self.fingerprint = json.dumps({"format": FORMAT, **fingerprint}, sort_keys=True)
        self.memory_mb = memory_mb
        self.recent_limit = memory_mb * 1024 * 1024 // (_RECENT_SHARE * _BAND_ROW_BYTES)  # rows of `recent`
        self.rebuilt = False
        self._building = f"{path}.building"
        if path != ":memory:":
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        try:
            self.con = self._open()
        except sqlite3.DatabaseError as exc:  # damaged: it is only derived data
            LOGGER.warning("dedup index %s is damaged (%s): rebuilding it from the warehouse", path, exc)
            self._remove()
            self.con = self._open()
            self.rebuilt = True

    def _connect(self, path: str) -> sqlite3.Connection:
        con = sqlite3.connect(path, isolation_level=None, timeout=600, check_same_thread=False)
        con.execute(f"PRAGMA cache_size=-{self.memory_mb * 1024}")  # KiB: the index's memory
        con.execute("PRAGMA mmap_size=0")  # read through the page cache alone (mapped pages count as RSS)
        con.execute("PRAGMA temp_store=FILE")  # staged rows of a migration go to disk, not memory
        con.execute(f"PRAGMA journal_size_limit={self.memory_mb * 1024 * 1024}")  # a merge's WAL, truncated
        return con

    def _open(self) -> sqlite3.Connection:
        for leftover in (self._building, self._building + "-journal"):  # a first build that was cut short
            with suppress(FileNotFoundError):
                os.remove(leftover)
        con = self._connect(self.path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")  # WAL: a crash loses at most the last commit, never the file
        con.executescript(_SCHEMA)
        found = con.execute("SELECT value FROM meta WHERE name = 'fingerprint'").fetchone()
        if found is not None and found[0] != self.fingerprint:
            LOGGER.info("dedup index %s was made with other settings: rebuilding it", self.path)
            con.close()
            self._remove()
            self.rebuilt = True
            return self._open()
        if found is None:
            con.execute(_META, (self.fingerprint,))
        return con

    def _remove(self) -> None:
        if self.path == ":memory:":
            return
        for suffix in ("", "-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.remove(self.path + suffix)

    def close(self) -> None:
        self.con.close()

    def reset(self) -> None:
        """Start again from nothing (the next absorption is a first build)."""
        self.con.close()
        self._remove()
        self.con = self._open()
        self.rebuilt = True

    # ---- reading

    def relative(self, path: str) -> str:
        """A warehouse file's name in the index."""
        return path[len(self._prefix) :] if self._prefix and path.startswith(self._prefix) else path

    def full(self, name: str) -> str:
        """A warehouse file's path from its name in the index."""
        return name if not self._prefix or name.startswith("/") or "://" in name else self._prefix + name

    def _in(self, sql: str, keys: Sequence[int]) -> Iterator[tuple[Any, ...]]:
        """Rows of `sql` (with `IN ({0})` for the keys, as many times as it likes), for any number of keys."""
        times = sql.count("{0}")
        for start in range(0, len(keys), _PARAMS // times):
            chunk = list(keys[start : start + _PARAMS // times])
            yield from self.con.execute(sql.format(",".join("?" * len(chunk))), chunk * times)

    def stored_docs(self, docs: Sequence[int]) -> set[int]:
        return {row[0] for row in self._in("SELECT doc FROM docs WHERE stored AND doc IN ({0})", docs)}

    def first_of_texts(self, texts: Sequence[int]) -> dict[int, tuple[int, int]]:
        """text key → (first doc, its cluster), for the texts stored."""
        sql = "SELECT text, first, cluster FROM texts WHERE text IN ({0})"
        return {text: (first, cluster) for text, first, cluster in self._in(sql, texts)}

    def members(self, keys: Sequence[int]) -> list[tuple[int, int, int, int, str]]:
        """(band key, seq, doc, cluster, documents file) of the members that have one of these band keys,
        in key order, then order of arrival."""
        sql = (
            "SELECT b.key, d.seq, b.doc, d.cluster, f.path FROM (SELECT key, doc FROM bands "
            "WHERE key IN ({0}) UNION ALL SELECT key, doc FROM recent WHERE key IN ({0})) b "
            "JOIN docs d ON d.doc = b.doc "
            "JOIN files f ON f.num = d.file"
        )
        return sorted(
            (key, seq, doc, cluster, self.full(path)) for key, seq, doc, cluster, path in self._in(sql, keys)
        )

    def paragraph_counts(self, slots: Sequence[int]) -> dict[int, int]:
        sql = "SELECT slot, count FROM paragraphs WHERE slot IN ({0})"
        return {slot: count for slot, count in self._in(sql, slots)}

    def known_rejects(self, keys: Sequence[int]) -> set[int]:
        return {row[0] for row in self._in("SELECT key FROM rejects WHERE key IN ({0})", keys)}

    def absorbed(self, part: str) -> set[str]:
        rows = self.con.execute("SELECT path FROM absorbed WHERE part = ?", (part,))
        return {self.full(row[0]) for row in rows}

    def member_count(self) -> int:
        """Members of the near-duplicate index (kept in `meta` as they join)."""
        return int(self.con.execute("SELECT value FROM meta WHERE name = 'members'").fetchone()[0])

    def size(self) -> dict[str, int]:
        """Documents, texts and members held (counted from the tables: slow on a large index; for
        benchmarks and tests)."""
        one = self.con.execute
        return {
            "documents": one("SELECT count(*) FROM docs WHERE stored").fetchone()[0],
            "texts": one("SELECT count(*) FROM texts").fetchone()[0],
            "members": self.member_count(),
        }

    # ---- writing

    def empty(self) -> bool:
        """Nothing absorbed yet: a new index (a first run on an existing warehouse, or a rebuild)."""
        return self.con.execute("SELECT 1 FROM absorbed LIMIT 1").fetchone() is None

    @contextmanager
    def building(self) -> Iterator[Absorption]:
        """Like `absorbing`, for an empty index: the rows go into a new database file written without a
        journal (each page written once, where a transaction of millions of rows would write them twice
        through the write-ahead log), which then replaces the index. A build cut short leaves the empty
        index as it was, and a leftover file the next open removes."""
        if self.path == ":memory:":
            with self.absorbing() as absorption:
                yield absorption
            return
        con = self._connect(self._building)
        try:
            con.execute("PRAGMA journal_mode=OFF")
            con.execute("PRAGMA synchronous=OFF")  # fsynced once, below, before it replaces the index
            con.executescript(_SCHEMA)
            con.execute(_META, (self.fingerprint,))
            for table, columns in _STAGING.items():
                con.execute(f"CREATE TEMP TABLE {table}({columns})")
            con.execute("BEGIN")
            absorption = Absorption(con, self.relative, "bands")  # in key order already
            yield absorption
            absorption.apply()
            con.execute("COMMIT")
        except BaseException:
            con.close()
            with suppress(FileNotFoundError):
                os.remove(self._building)
            raise
        con.close()
        with open(self._building, "rb+") as built:
            os.fsync(built.fileno())
        self.con.close()
        for suffix in ("-wal", "-shm"):
            with suppress(FileNotFoundError):
                os.remove(self.path + suffix)
        os.replace(self._building, self.path)
        self.con = self._open()

    @contextmanager
    def absorbing(self) -> Iterator[Absorption]:
        """Rows to record, staged, then applied in one transaction when the block ends without error."""
        for table, columns in _STAGING.items():
            self.con.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table}({columns})")
        self.con.execute("BEGIN IMMEDIATE")
        try:
            absorption = Absorption(self.con, self.relative, "recent")
            yield absorption
            if absorption.apply() > self.recent_limit:
                self._merge()
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            for table in (*_STAGING, "s_fresh"):
                self.con.execute(f"DROP TABLE IF EXISTS temp.{table}")

    def _merge(self) -> None:
        """`recent` into `bands`, in key order (each page of `bands` written once), within the transaction."""
        self.con.execute("INSERT OR IGNORE INTO bands SELECT key, doc FROM recent ORDER BY key, doc")
        self.con.execute("DELETE FROM recent")
        self.con.execute("UPDATE meta SET value = '0' WHERE name = 'recent'")


class Absorption:
    """Rows staged for the index, in the order they arrive (the first document of a text, and a member's
    place among equally similar candidates, follow it)."""

    def __init__(self, con: sqlite3.Connection, relative: Callable[[str], str], bands: str) -> None:
        self.con = con
        self.relative = relative
        self.bands = bands  # the table new members' band keys go to: `bands` (a first build) or `recent`
        self.ord = 0
        self.rows = 0

    def _many(self, sql: str, columns: Iterable[np.ndarray | Sequence[Any]]) -> None:
        arrays = list(columns)
        count = len(arrays[0])
        for start in range(0, count, _ROWS):
            part = [a[start : start + _ROWS] for a in arrays]
            lists = [p.tolist() if isinstance(p, np.ndarray) else list(p) for p in part]
            self.con.executemany(sql, zip(*lists, strict=True))
        self.rows += count

    def _order(self, count: int) -> np.ndarray:
        order = np.arange(self.ord, self.ord + count, dtype=np.int64)
        self.ord += count
        return order

    def documents(self, docs: np.ndarray, texts: np.ndarray, clusters: np.ndarray) -> None:
        """Stored documents (uint64 keys of doc_id, content hash and cluster), in file order."""
        docs, texts, clusters = signed(docs), signed(texts), signed(clusters)
        self._many("INSERT INTO s_docs VALUES (?, ?)", (docs, clusters))
        self._many("INSERT INTO s_texts VALUES (?, ?, ?, ?)", (self._order(len(docs)), texts, docs, clusters))

    def members(
        self,
        docs: np.ndarray,
        clusters: np.ndarray,
        files: Sequence[str],
        bands: np.ndarray,
        paragraphs: tuple[np.ndarray, np.ndarray],
    ) -> None:
        """Near-duplicate index members: uint64 keys of doc and cluster, each one's documents file, its
        band values as a uint32 [n, bands] matrix, and its paragraphs' counter slots as (slots, row of
        each)."""
        docs, clusters = signed(docs), signed(clusters)
        order = self._order(len(docs))
        names = [self.relative(f) for f in files]
        self._many("INSERT INTO s_members VALUES (?, ?, ?, ?)", (order, docs, clusters, names))
        count, width = bands.shape
        if count and width:
            keys = (np.arange(width, dtype=np.uint64) << np.uint64(32)) | bands.astype(np.uint64)
            self._many("INSERT INTO s_bands VALUES (?, ?)", (signed(keys.ravel()), np.repeat(docs, width)))
        slots, row = paragraphs
        if len(slots):
            self._many("INSERT INTO s_paragraphs VALUES (?, ?)", (order[row], slots.astype(np.int64)))

    def rejects(self, keys: Sequence[int]) -> None:
        self._many("INSERT INTO s_rejects VALUES (?)", (keys,))

    def file(self, path: str, part: str) -> None:
        """A Parquet file whose rows are staged (recorded as absorbed with them)."""
        self.con.execute("INSERT INTO s_absorbed VALUES (?, ?)", (self.relative(path), part))

    def gone(self, paths: Iterable[str]) -> None:
        """Absorbed files that are no longer there (compaction replaced them)."""
        self.con.executemany("INSERT INTO s_gone VALUES (?)", ((self.relative(p),) for p in paths))

    def apply(self) -> int:
        """Apply the staged rows; the rows `recent` holds now."""
        meta = dict(
            self.con.execute("SELECT name, value FROM meta WHERE name IN ('next_seq', 'members', 'recent')")
        )
        base = int(meta["next_seq"])
        recent = int(meta["recent"])
        for statement in _APPLY:
            cursor = self.con.execute(
                statement.format(bands=self.bands), {"base": base} if ":base" in statement else ()
            )
            if "{bands}" in statement and self.bands == "recent":
                recent += cursor.rowcount
        fresh = self.con.execute("SELECT count(*) FROM s_fresh").fetchone()[0]
        self.con.executemany(
            "UPDATE meta SET value = ? WHERE name = ?",
            [
                (str(base + self.ord), "next_seq"),
                (str(int(meta["members"]) + fresh), "members"),
                (str(recent), "recent"),
            ],
        )
        return recent
