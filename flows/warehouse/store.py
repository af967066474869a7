"""The Parquet warehouse: where tables live, how files are published, and what a run leaves behind.

Layout under the warehouse root (a local folder, or any URI pyarrow's filesystems understand: s3://, gs://):

    documents/source=<name>/month=<YYYY-MM>/part-<run_id>-<seq>.parquet
    rejects/source=<name>/part-<run_id>-<seq>.parquet
    fetches/source=<name>/part-<run_id>-<seq>.parquet   one row per URL fetched (web sources)
    signatures/source=<name>/part-<run_id>-<seq>.parquet  LSH band hashes of stored texts (dedup/near.py)
    raw/source=<name>/<run_id>-<unit>-<n>.warc.gz     the raw responses of web sources
    runs/run-<run_id>-<phase>.parquet         one row per source of the run; phase: start, end
    _staging/<run_id>/                         extracted, not yet committed (never read by views)
    corpus.duckdb                              the views (see views.py)
    search.sqlite                              the full-text index (see search_index.py)

Files are immutable. Each is written under a temporary name and renamed into place, so a reader never sees
a partial file and a crash leaves only temporary files, which no reader globs. A run's committed files stay;
a re-run skips what they hold (flows/dedup) and completes the rest.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from flows.errors import ConfigError, ReadOnlyWarehouse
from flows.records import SCHEMA_VERSION
from flows.warehouse.files import FileChecks, Refused
from flows.warehouse.remote import s3_filesystem
from flows.warehouse.tables import (
    DOCUMENTS,
    FETCH_SCHEMA,
    FETCHES,
    INPUT_SCHEMA,
    INPUTS,
    RUN_SCHEMA,
    RUNS,
    TABLES,
    Table,
    month_of,
)

if TYPE_CHECKING:
    from flows.config import Config

PARQUET_OPTIONS = MappingProxyType({"compression": "zstd", "compression_level": 3, "row_group_size": 50_000})
STAGING = "_staging"
RAW_ARCHIVE = "raw"  # the web sources' raw archive: raw/source=<name>/*.warc.gz (fetch/archive.py writes it)


class Warehouse:
    """A warehouse root on some filesystem, plus the local DuckDB catalog with its views."""

    def __init__(self, root: str, catalog: str | None = None) -> None:
        if "://" in root:
            if root.startswith("s3://"):  # with the endpoint of AWS_ENDPOINT_URL, which pyarrow ignores
                self.fs, self.root = s3_filesystem(root)
            else:
                self.fs, self.root = pafs.FileSystem.from_uri(root)
            self.uri = root.rstrip("/")
            self.local = False
            if catalog is None:
                raise ConfigError(
                    f"warehouse {root}: a remote warehouse needs [warehouse] catalog = a local path"
                )
        else:
            self.fs, self.root = pafs.LocalFileSystem(), str(Path(root).resolve())
            if os.path.exists(self.root) and not os.path.isdir(self.root):
                raise ConfigError(
                    f"warehouse {self.root} is a file, not a folder ([warehouse] path, --warehouse)"
                )
            self.uri = self.root
            self.local = True
        self.catalog = str(Path(catalog).resolve()) if catalog else os.path.join(self.root, "corpus.duckdb")
        self._checks: FileChecks | None = None

    @property
    def checks(self) -> FileChecks:
        """Verdicts on the Parquet files of the table folders (files.py), kept beside the catalog."""
        if self._checks is None:
            self._checks = FileChecks(os.path.join(os.path.dirname(self.catalog), ".checked-files.json"))
        return self._checks

    @property
    def dedup_index(self) -> str:
        """The dedup index's database (flows/dedup/index.py): local, beside the catalog, named after it."""
        return str(Path(self.catalog).with_suffix(".dedup.sqlite"))

    def writable(self) -> bool:
        """Whether files can be created in the warehouse (tried, not guessed: a read-only mount refuses
        even root). Remote warehouses are taken as writable (their errors come with the write)."""
        if not self.local:
            return True
        try:
            os.makedirs(self.root, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                return True
        except OSError:
            return False

    def require_writable(self, command: str) -> None:
        if not self.local:  # reachable, and the bucket exists: one line before any work, not a traceback
            try:
                self.fs.create_dir(self.root, recursive=True)
            except OSError as exc:
                raise ConfigError(f"warehouse {self.uri}: {' '.join(str(exc).split())}") from None
            return
        if not self.writable():
            raise ReadOnlyWarehouse(
                f"warehouse {self.root} cannot be written: {command} needs to write there "
                "(sql, stats and search only read)"
            )

    def require_existing(self, command: str) -> None:
        """For commands that only read: a local warehouse folder that does not exist is a mistyped path, not
        a new warehouse to create (ingest creates one)."""
        if self.local and not os.path.isdir(self.root):
            raise ConfigError(
                f"warehouse {self.root} does not exist: {command} reads an existing warehouse "
                "(corpus ingest creates one)"
            )

    def holds(self, path: str | os.PathLike[str]) -> bool:
        """Whether a local path lies inside the warehouse folder (results are never written there)."""
        return self.local and Path(path).resolve().is_relative_to(self.root)

    @classmethod
    def of_config(cls, config: Config, override: str | None = None) -> Warehouse:
        """The warehouse a config names ([warehouse] path and catalog), or the folder `override`."""
        return cls(*config.warehouse_location(override))

    # ---- paths

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def relative(self, path: str) -> str:
        """A path inside the warehouse as it is stored in its tables (origins, warc_file): relative to the
        warehouse, so that a warehouse copied or moved still names its own files; others unchanged."""
        root = self.root.rstrip("/") + "/"
        return path[len(root) :] if path.startswith(root) else path

    def uri_of(self, path: str) -> str:
        """A path of the warehouse's filesystem as DuckDB names it (s3://bucket/key for object storage)."""
        return path if self.local else f"{self.uri.split('://', 1)[0]}://{path}"

    def has_files(self, table: Table) -> bool:
        return bool(self.files(table))

    def files(self, table: Table) -> list[str]:
        """The table's files: the ones the warehouse wrote (files.py); anything else in its folders is
        left out, and named once."""
        return self._own(table, self._parquet_infos(self.path(table.name), recursive=True))

    def file_groups(self, table: Table) -> list[list[str]]:
        """The table's files, grouped by layout (the same columns and types): each group one read for
        DuckDB, which then compares no footers across files (binding a view over 4,000 files that way took
        8 s and 0.9 GB)."""
        groups: dict[str, list[str]] = {}
        for path in self.files(table):
            groups.setdefault(self.checks.layout_of(path) or path, []).append(path)
        return list(groups.values())

    def refused(self, table: Table) -> list[Refused]:
        """The Parquet files in a table's folders that the warehouse did not write, and why."""
        found = []
        for info in self._parquet_infos(self.path(table.name), recursive=True):
            reason = self.checks.judge(self.fs, info, table.readable_schema, table.partitions)
            if reason is not None:
                found.append(Refused(info.path, reason))
        self.checks.save(if_read=True)
        return found

    def own_files(self, table: Table, folder: str) -> list[str]:
        """The table's own files in one of its partition folders (not below it)."""
        return self._own(table, self._parquet_infos(folder))

    def _own(self, table: Table, infos: list[pafs.FileInfo]) -> list[str]:
        schema = table.readable_schema  # built once, not per file (4,000 files: 0.04 s a listing)
        own = [i.path for i in infos if self.checks.judge(self.fs, i, schema, table.partitions) is None]
        self.checks.save(if_read=True)
        return own

    def raw_archive_files(self) -> list[pafs.FileInfo]:
        """The raw archive's WARC files, every source's."""
        selector = pafs.FileSelector(self.path(RAW_ARCHIVE), recursive=True, allow_not_found=True)
        return [
            info
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File and info.base_name.endswith(".warc.gz")
        ]

    def _parquet_infos(self, folder: str, recursive: bool = False) -> list[pafs.FileInfo]:
        selector = pafs.FileSelector(folder, recursive=recursive, allow_not_found=True)
        return [
            info
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File
            and info.base_name.endswith(".parquet")
            and not info.base_name.startswith((".", "_"))
        ]

    # ---- writing

    def publish(self, table: pa.Table, final_path: str) -> None:
        """Write a Parquet file so that it appears whole or not at all."""
        parent = final_path.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        schema = table.schema.with_metadata({b"corpus.schema_version": str(SCHEMA_VERSION).encode()})
        table = table.replace_schema_metadata(schema.metadata)
        if not self.local:  # object stores publish a PUT atomically already
            pq.write_table(table, final_path, filesystem=self.fs, **PARQUET_OPTIONS)
            self.checks.accept(self.fs.get_file_info(final_path), table.schema)
            return
        temp = f"{parent}/.{final_path.rsplit('/', 1)[1]}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(temp, "wb") as sink:
                pq.write_table(table, sink, **PARQUET_OPTIONS)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(temp, final_path)
            self.checks.accept(self.fs.get_file_info(final_path), table.schema)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)

    def write_partitioned(
        self, table_def: Table, rows: Sequence[Mapping[str, Any]], source: str, run_id: str, seq: int
    ) -> list[tuple[str, list[Mapping[str, Any]]]]:
        """Publish rows (dicts with the table's columns) into their partitions; returns each file written
        with its rows."""
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = defaultdict(list)
        for row in rows:
            key = tuple(source if p == "source" else month_of(row) for p in table_def.partitions)
            groups[key].append(row)
        written = []
        for key, group in sorted(groups.items()):
            folder = "/".join(
                f"{name}={value}" for name, value in zip(table_def.partitions, key, strict=True)
            )
            path = self.path(table_def.name, folder, f"part-{run_id}-{seq:05d}.parquet")
            self.publish(pa.Table.from_pylist(group, schema=table_def.schema), path)
            written.append((path, group))
        return written

    def read_text(self, path: str, doc_id: str) -> str | None:
        """The text of one stored document, reading only the row group that holds it (compacted files hold
        many thousands of texts). A file that is gone was merged by `compact` since the caller noted it:
        the document is then looked for in the files of the same partition."""
        try:  # tried before asking whether it exists: it nearly always does
            found = self._text_in(path, doc_id)
        except OSError:
            if self.fs.get_file_info(path).type == pafs.FileType.File:
                raise
            found = None
        if found is not None:
            return found
        folder = path.rsplit("/", 1)[0]
        for other in self._own(DOCUMENTS, self._parquet_infos(folder)):
            if other != path:
                found = self._text_in(other, doc_id)
                if found is not None:
                    return found
        return None

    def _text_in(self, path: str, doc_id: str) -> str | None:
        with self.fs.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            meta = parquet.metadata
            id_column = next(i for i in range(meta.num_columns) if meta.schema.column(i).path == "doc_id")
            for group in range(meta.num_row_groups):
                stats = meta.row_group(group).column(id_column).statistics
                if stats is not None and stats.has_min_max and not stats.min <= doc_id <= stats.max:
                    continue
                rows = parquet.read_row_group(group, columns=["doc_id", "text"])
                at = pc.index(rows.column(0), doc_id).as_py()
                if at >= 0:
                    text: str | None = rows.column(1)[at].as_py()
                    return text
        return None

    def files_of(self, table: Table) -> set[str]:
        return set(self.files(table))

    def write_run_rows(self, run_id: str, phase: str, rows: list[dict[str, Any]]) -> None:
        table = pa.Table.from_pylist(
            [{**row, "run_id": run_id, "schema_version": SCHEMA_VERSION} for row in rows], schema=RUN_SCHEMA
        )
        self.publish(table, self.path(RUNS.name, f"run-{run_id}-{phase}.parquet"))

    # ---- reading

    def read_fetch_state(self, source: str, urls: list[str]) -> dict[str, dict[str, Any]]:
        """The latest successful fetch of each of these URLs of a source (for conditional requests)."""
        files = self.partition_files(FETCHES, source)
        if not files or not urls:
            return {}
        columns = ["url", "outcome", "etag", "last_modified", "body_hash", "fetched_at"]
        schema = pa.schema([FETCH_SCHEMA.field(c) for c in columns])
        dataset = ds.dataset(files, schema=schema, format="parquet", filesystem=self.fs)
        wanted = ds.field("url").isin(urls) & ds.field("outcome").isin(
            ["new", "changed", "unchanged", "not_modified"]
        )
        latest: dict[str, dict[str, Any]] = {}
        for row in dataset.to_table(filter=wanted).to_pylist():
            known = latest.get(row["url"])
            if known is None or row["fetched_at"] >= known["fetched_at"]:
                latest[row["url"]] = row
        return latest

    def read_inputs(self, source: str) -> dict[str, dict[str, Any]]:
        """The last `inputs` row of each file a source has ingested completely (path → row)."""
        files = self.partition_files(INPUTS, source)
        if not files:
            return {}
        columns = ["path", "size", "mtime", "fingerprint", "start", "ingested_at"]
        schema = pa.schema([INPUT_SCHEMA.field(c) for c in columns])
        rows = ds.dataset(files, schema=schema, format="parquet", filesystem=self.fs).to_table().to_pylist()
        latest: dict[str, dict[str, Any]] = {}
        for row in rows:
            known = latest.get(row["path"])
            if known is None or row["ingested_at"] >= known["ingested_at"]:
                latest[row["path"]] = row
        return latest

    def partition_files(self, table: Table, source: str) -> list[str]:
        return self._own(table, self._parquet_infos(self.path(table.name, f"source={source}")))

    def run_phases(self) -> dict[str, set[str]]:
        """run_id → the phases (start, end) recorded for it."""
        phases: dict[str, set[str]] = defaultdict(set)
        for path in self.files(RUNS):
            name = path.rsplit("/", 1)[1].removeprefix("run-").removesuffix(".parquet")
            run_id, _, phase = name.rpartition("-")
            phases[run_id].add(phase)
        return phases

    def read_run_rows(self, run_id: str, phase: str) -> list[dict[str, Any]]:
        path = self.path(RUNS.name, f"run-{run_id}-{phase}.parquet")
        rows: list[dict[str, Any]] = pq.read_table(path, filesystem=self.fs).to_pylist()
        return rows

    # ---- staging (extracted, not yet committed)

    def staging_dir(self, run_id: str) -> str:
        return self.path(STAGING, run_id)

    def staged_runs(self) -> list[str]:
        selector = pafs.FileSelector(self.path(STAGING), allow_not_found=True)
        return sorted(
            i.base_name for i in self.fs.get_file_info(selector) if i.type == pafs.FileType.Directory
        )

    def remove_staging(self, run_id: str) -> None:
        folder = self.staging_dir(run_id)
        if self.fs.get_file_info(folder).type != pafs.FileType.NotFound:
            self.fs.delete_dir(folder)

    def remove_temp_files(self, run_id: str) -> int:
        """Temporary files a crashed run left behind (never visible to readers, but they take space)."""
        removed = 0
        for table in TABLES:
            selector = pafs.FileSelector(self.path(table.name), recursive=True, allow_not_found=True)
            for info in self.fs.get_file_info(selector):
                if info.base_name.startswith(f".part-{run_id}-") or info.base_name.startswith(
                    f".run-{run_id}-"
                ):
                    self.fs.delete_file(info.path)
                    removed += 1
        return removed

    def lock_path(self, name: str) -> str:
        """Lock files live beside the catalog: always on a local disk, where file locks work."""
        folder = os.path.join(os.path.dirname(self.catalog), ".locks")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{name}.lock")
