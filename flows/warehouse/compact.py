"""Compaction: each commit writes its own small file per partition, so a warehouse fed every few minutes
ends up with thousands of them. `compact` merges the files of each partition into one, with row groups
sized for DuckDB (about 32 MB of data each, at most 122,880 rows), documents sorted by publication date.

Atomic for readers: the merged partition is built beside the warehouse (_compact/<id>/), its rows counted
against the files it replaces, then swapped in with one renameat2(RENAME_EXCHANGE) of the two folders, so a
query globs either the old files or the new one, never both or neither (a query that listed the old files
just before the swap fails to open them and can be re-run; it never returns wrong rows). A crash leaves the
old files in place and a folder under _compact/ that the next compaction removes. Every state in between
holds the same rows: some partitions merged, others not.

Signatures point at the documents file of each document (near-dedup reads texts back): they are merged
after the documents, with every pointer re-aimed at the merged file; until then (or after a crash between
the two) readers find a document in the other files of its partition (Warehouse.read_text).

Compaction takes the warehouse's commit lock and refuses to start while a run is going (a run's
near-duplicate index holds file names), so runs and compaction take turns.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
from filelock import FileLock, Timeout

from flows.errors import CompactError
from flows.records import SCHEMA_VERSION
from flows.warehouse import search_index
from flows.warehouse.ids import new_run_id
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import (
    DOCUMENT_SCHEMA,
    DOCUMENTS,
    FETCHES,
    REJECTS,
    RESTATED_COLUMNS,
    SIGNATURES,
    Table,
)
from flows.warehouse.views import build_views

WORK = "_compact"
ROW_GROUP_BYTES = (
    32 * 1024 * 1024
)  # a merged file's row groups: large enough to scan fast, small enough to skip
MAX_ROW_GROUP_ROWS = 122_880  # DuckDB's own row group size
MIN_ROW_GROUP_ROWS = 1_024  # long texts: never a row group per few rows
ORDER = MappingProxyType(
    {
        DOCUMENTS.name: "published_utc NULLS LAST, fetched_at, doc_id",
        SIGNATURES.name: "doc_id",
        REJECTS.name: "fetched_at NULLS LAST, url",
        FETCHES.name: "fetched_at, url",
    }
)
COMPACTED = (
    DOCUMENTS,
    SIGNATURES,
    REJECTS,
    FETCHES,
)  # runs/ files are named by run and phase: kept as they are


@dataclass
class TableReport:
    table: str
    partitions: int = 0  # partitions merged
    files_before: int = 0
    files_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    rows: int = 0  # rows of the merged partitions (the same before and after: checked)
    replaced: list[str] = field(default_factory=list)  # the files merged (gone now)


@dataclass
class CompactReport:
    tables: list[TableReport] = field(default_factory=list)
    seconds: float = 0.0
    search_updated: bool = False  # the search index's rows were re-pointed at the merged files

    @property
    def replaced(self) -> frozenset[str]:
        """Every file merged into another (the dedup index re-aims its rows: Deduplicator.refresh)."""
        return frozenset(path for table in self.tables for path in table.replaced)


@dataclass(frozen=True)
class Partition:
    table: Table
    folder: str  # absolute path of the partition's folder
    files: tuple[str, ...]

    @property
    def relative(self) -> str:
        return self.folder.rsplit(f"/{self.table.name}/", 1)[1]


# Called with (table, partition folder relative to the table) before each partition is merged.
Progress = Callable[[str, str], None]


def compact(
    store: Warehouse,
    sources: list[str] | None = None,
    progress: Progress | None = None,
    lock_timeout: float = 60.0,
    restated: Mapping[str, pa.Table] | None = None,
    own_run: str | None = None,
) -> CompactReport:
    """Merge the small files of every partition (of these sources only, when given). With `restated`
    (per source, rows of RESTATED_COLUMNS and doc_id), only the documents partitions holding those
    documents are rewritten, with those columns replaced, and their signatures re-aimed (`restate`).
    `own_run`: the run calling (it is not waited for)."""
    if not store.local:
        raise CompactError(
            f"warehouse {store.uri}: compact needs a local warehouse (object stores cannot swap a folder "
            "atomically); compact a local copy and sync it"
        )
    started = time.monotonic()
    lock = FileLock(store.lock_path("commit"))
    try:
        lock.acquire(timeout=lock_timeout)
    except Timeout:
        raise CompactError(
            f"warehouse {store.root}: another process kept the commit lock for "
            f"{lock_timeout:.0f} s; try again when its commit is done"
        ) from None
    try:
        running = [run for run in live_runs(store) if run != own_run]
        if running:
            raise CompactError(
                f"warehouse {store.root}: run {running[0]} is still going; compact when it has finished"
            )
        work_root = store.path(WORK)
        shutil.rmtree(work_root, ignore_errors=True)  # what a crashed compaction left
        known = _source_names(store)
        unknown = sorted(set(sources or ()) - known)
        if unknown:
            raise CompactError(
                f"warehouse {store.root}: no stored data for source {unknown[0]!r} "
                f"(sources with data: {', '.join(sorted(known)) or 'none'})"
            )
        work = f"{work_root}/{new_run_id()}"
        report = CompactReport()
        try:
            _compact_tables(store, sources or sorted(known), work, report, progress, restated)
        finally:  # the views name the files they read: the merged ones, also after a stop half-way
            if any(t.partitions for t in report.tables):
                with contextlib.suppress(Exception):  # a failure of its own never hides the first one
                    build_views(store, only_if_changed=True)
        if search_index.index_path(store).exists():  # re-point its rows at the merged files
            report.search_updated = True
            search_index.refresh(store)
        shutil.rmtree(work_root, ignore_errors=True)
        report.seconds = round(time.monotonic() - started, 3)
        return report
    finally:
        lock.release()


def _compact_tables(
    store: Warehouse,
    sources: list[str],
    work: str,
    report: CompactReport,
    progress: Progress | None,
    restated: Mapping[str, pa.Table] | None = None,
) -> None:
    """Merge the partitions of these sources, table by table (documents before their signatures); with
    `restated`, only the documents partitions that hold restated documents (and the signatures after them)."""
    moved: set[str] = set()  # sources whose documents were merged: their signatures must follow
    for table in (DOCUMENTS, SIGNATURES) if restated is not None else COMPACTED:
        table_report = TableReport(table.name)
        report.tables.append(table_report)
        for source in sorted(set(sources)):
            replacing = restated.get(source) if restated is not None and table is DOCUMENTS else None
            for partition in partitions(store, table, source):
                if restated is not None and table is DOCUMENTS:
                    if replacing is None or not _holds(partition, replacing):
                        continue
                elif len(partition.files) < 2 and not (
                    table is SIGNATURES and (source in moved or _stale_pointers(partition))
                ):
                    continue
                if progress is not None:
                    progress(table.name, partition.relative)
                _merge(store, partition, work, table_report, replacing)
                if table is DOCUMENTS:
                    moved.add(source)


def _holds(partition: Partition, replacing: pa.Table) -> bool:
    """Some of the partition's documents are among `replacing`'s."""
    wanted = replacing.column("doc_id")
    return any(
        pc.any(pc.is_in(pq.read_table(path, columns=["doc_id"]).column(0), wanted)).as_py()
        for path in partition.files
    )


def live_runs(store: Warehouse) -> list[str]:
    """Runs still going: their staging folder exists and their run lock is held by a live process."""
    running = []
    for run_id in store.staged_runs():
        lock = FileLock(store.lock_path(f"run-{run_id}"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            running.append(run_id)
            continue
        lock.release()
    return running


def partitions(store: Warehouse, table: Table, source: str) -> list[Partition]:
    """The partition folders of one source in a table, with their committed files."""
    top = Path(store.path(table.name, f"source={source}"))
    folders = [top] if len(table.partitions) == 1 else sorted(p for p in top.glob("*=*") if p.is_dir())
    found = []
    for folder in folders:
        if not folder.is_dir():
            continue
        files = tuple(sorted(store.own_files(table, str(folder))))  # never a file it did not write
        if files:
            found.append(Partition(table, str(folder), files))
    return found


def _source_names(store: Warehouse) -> set[str]:
    names: set[str] = set()
    for table in COMPACTED:
        top = Path(store.path(table.name))
        if top.is_dir():
            names.update(p.name.removeprefix("source=") for p in top.glob("source=*") if p.is_dir())
    return names


def _stale_pointers(partition: Partition) -> bool:
    """Whether some signature points at a documents file that is gone (a compaction stopped between
    merging the documents and their signatures)."""
    column = ds.dataset(list(partition.files), format="parquet").to_table(columns=["doc_file"]).column(0)
    return any(path is not None and not os.path.exists(path) for path in column.unique().to_pylist())


def _merge(
    store: Warehouse,
    partition: Partition,
    work: str,
    table_report: TableReport,
    replacing: pa.Table | None = None,
) -> None:
    metadata = [pq.read_metadata(path) for path in partition.files]
    size_before = sum(os.path.getsize(path) for path in partition.files)
    rows = sum(m.num_rows for m in metadata)
    data_bytes = sum(m.row_group(i).total_byte_size for m in metadata for i in range(m.num_row_groups))
    per_group = ROW_GROUP_BYTES * rows // max(data_bytes, 1)
    per_group = max(MIN_ROW_GROUP_ROWS, min(MAX_ROW_GROUP_ROWS, per_group))
    staged_folder = f"{work}/{partition.table.name}/{partition.relative}"
    os.makedirs(staged_folder)
    merged = f"{staged_folder}/part-compacted-{os.path.basename(work)}.parquet"
    _write_merged(store, partition, merged, per_group, replacing)
    written = pq.read_metadata(merged).num_rows
    if written != rows:
        raise CompactError(
            f"{partition.folder}: merged file holds {written} rows where the {len(partition.files)} files "
            f"hold {rows}; nothing was replaced"
        )
    _fsync(merged)
    for other in os.listdir(partition.folder):  # what is not the table's (a file someone dropped) stays
        if str(os.path.join(partition.folder, other)) not in partition.files and not other.startswith("."):
            os.link(os.path.join(partition.folder, other), os.path.join(staged_folder, other))
    exchange(staged_folder, partition.folder)  # the partition now holds the merged file and nothing else
    _fsync(os.path.dirname(partition.folder))
    shutil.rmtree(staged_folder)  # the old files
    table_report.partitions += 1
    table_report.files_before += len(partition.files)
    table_report.replaced.extend(partition.files)
    table_report.files_after += 1
    table_report.bytes_before += size_before
    table_report.bytes_after += os.path.getsize(os.path.join(partition.folder, os.path.basename(merged)))
    table_report.rows += rows


def _write_merged(
    store: Warehouse,
    partition: Partition,
    target: str,
    rows_per_group: int,
    replacing: pa.Table | None = None,
) -> None:
    """One file with every row of the partition's files, in the table's declared schema (older files get
    nulls for columns they lack), sorted, written by DuckDB (which spills to disk rather than holding a
    large partition in memory). `replacing`: rows (doc_id and some columns) whose columns replace those of
    the documents with their doc_id."""
    table = partition.table
    scanner = ds.dataset(list(partition.files), schema=table.readable_schema, format="parquet").scanner(
        batch_size=8192
    )
    select = f"SELECT * FROM ({table.upgraded_select('rows')}) ORDER BY {ORDER[table.name]}"
    with duckdb.connect() as con:
        con.register("rows", scanner.to_reader())
        con.execute("SET memory_limit = '1GB'")
        con.execute(f"SET temp_directory = '{_quote(os.path.dirname(target))}/.spill'")
        if table is SIGNATURES:
            select = _signatures_select(con, store, partition)
        if replacing is not None:
            con.register("replacing", replacing)
            columns = [c for c in replacing.column_names if c != "doc_id"]
            swapped = ", ".join(
                f"CASE WHEN replacing.doc_id IS NULL THEN stored.{c} ELSE replacing.{c} END AS {c}"
                for c in columns
            )
            stored = table.upgraded_select("rows")
            select = (
                f"SELECT * FROM (SELECT stored.* REPLACE ({swapped}) FROM ({stored}) stored "
                f"LEFT JOIN replacing ON stored.doc_id = replacing.doc_id) ORDER BY {ORDER[table.name]}"
            )
        con.execute(
            f"COPY ({select}) TO '{_quote(target)}' (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3, "
            f"ROW_GROUP_SIZE {rows_per_group}, KV_METADATA {{'corpus.schema_version': '{SCHEMA_VERSION}'}})"
        )
    shutil.rmtree(f"{os.path.dirname(target)}/.spill", ignore_errors=True)


def _signatures_select(con: duckdb.DuckDBPyConnection, store: Warehouse, partition: Partition) -> str:
    """Signature rows with doc_file re-aimed at the documents file that holds each document now."""
    source = partition.folder.rsplit("source=", 1)[1]
    documents = [f for p in partitions(store, DOCUMENTS, source) for f in p.files]
    if not documents:
        return f"SELECT * FROM rows ORDER BY {ORDER[SIGNATURES.name]}"
    listing = ", ".join(f"'{_quote(path)}'" for path in documents)
    con.execute(
        f"CREATE TEMP TABLE doc_files AS SELECT doc_id, any_value(filename) AS doc_file "
        f"FROM read_parquet([{listing}], filename = true) GROUP BY doc_id"
    )
    return (
        "SELECT rows.* REPLACE (coalesce(doc_files.doc_file, rows.doc_file) AS doc_file) "
        f"FROM rows LEFT JOIN doc_files USING (doc_id) ORDER BY rows.{ORDER[SIGNATURES.name]}"
    )


def restated_rows(rows: Sequence[Mapping[str, object]]) -> pa.Table:
    """Rows of documents read again, as `compact(restated=...)` takes them: doc_id and RESTATED_COLUMNS,
    one row per document (the last read)."""
    latest = {row["doc_id"]: row for row in rows}
    schema = pa.schema([DOCUMENT_SCHEMA.field(n) for n in ("doc_id", *RESTATED_COLUMNS)])
    return pa.Table.from_pylist(
        [{n: row.get(n) for n in schema.names} for row in latest.values()], schema=schema
    )


# ---- swapping folders

_RENAME_EXCHANGE = 2  # renameat2(2)'s flag, from Linux's headers
_AT_FDCWD = -100  # the directory argument meaning the working directory, likewise


def exchange(new: str, old: str) -> None:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE). Where the kernel or filesystem
    cannot, fall back to two renames: old aside, new into place (a reader may then find the partition
    missing for a moment)."""
    renameat2 = getattr(_libc(), "renameat2", None)
    if renameat2 is not None:
        if renameat2(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(old), _RENAME_EXCHANGE) == 0:
            return
        code = ctypes.get_errno()
        if code not in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise OSError(code, f"cannot swap {new} and {old}: {os.strerror(code)}")
    aside = f"{new}.old"
    os.rename(old, aside)
    os.rename(new, old)
    os.rename(aside, new)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _quote(text: str) -> str:
    return text.replace("'", "''")
