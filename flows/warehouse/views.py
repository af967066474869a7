"""The DuckDB catalog: base views over the Parquet tables, then the analysts' views from sql/*.sql.

The catalog is rebuilt into a new file and renamed over the old one, so an analyst holding corpus.duckdb
open (even read-only, which DuckDB treats as a lock against writers) never blocks an ingest: they keep
reading the old file until they reconnect. The base views name the warehouse's own files one by one
(warehouse/files.py: what it wrote, not whatever else lies in its folders), and `_catalog_files` lists
them, so that an analyst's connection can be allowed to read exactly those files; the catalog is rebuilt
when they change (an ingest does it after its commits, `corpus sql` and connect() before they read), or,
when only some tables' files changed, copied with those tables' base views replaced (`_patched`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import duckdb
import pyarrow as pa

from flows.warehouse import remote
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import TABLES, Table

# The view definitions, one file per view: the project's sql/ folder, shipped inside the package (flows/sql
# links to it in a checkout; a built wheel holds the files themselves).
SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


_SCALAR_TYPES = MappingProxyType(
    {
        pa.string(): "VARCHAR",
        pa.int16(): "SMALLINT",
        pa.int32(): "INTEGER",
        pa.int64(): "BIGINT",
        pa.float64(): "DOUBLE",
        pa.float32(): "FLOAT",
        pa.uint32(): "UINTEGER",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
    }
)


def duckdb_type(data_type: pa.DataType) -> str:
    """The DuckDB type of an Arrow column type of the stored tables."""
    if data_type in _SCALAR_TYPES:
        return _SCALAR_TYPES[data_type]
    if pa.types.is_timestamp(data_type):
        return "TIMESTAMPTZ" if data_type.tz else "TIMESTAMP"
    if pa.types.is_list(data_type):
        return duckdb_type(data_type.value_type) + "[]"
    raise TypeError(f"no DuckDB type for {data_type}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def base_view_sql(warehouse: Warehouse, table: Table, groups: list[list[str]]) -> str:
    """`internal.<table>` over the table's own files, in groups of one layout each (Warehouse.file_groups):
    every column of the declared schema (null where an older file lacks it, or filled from the columns it
    had: Table.upgrades), plus the partition columns; an empty typed relation while there are none."""
    columns = [f"CAST(NULL AS {duckdb_type(f.type)}) AS {f.name}" for f in table.readable_schema]
    columns += [f"CAST(NULL AS VARCHAR) AS {p}" for p in table.partitions]
    empty = f"SELECT {', '.join(columns)} WHERE false"
    body = empty
    options = ""
    if table.partitions:
        hive = ", ".join(f"{_quote(p)}: 'VARCHAR'" for p in table.partitions)
        options = f", hive_partitioning = true, hive_types = {{{hive}}}"
    for files in groups:  # one layout: DuckDB binds the group from its first file's footer alone
        listing = ", ".join(_quote(warehouse.uri_of(path)) for path in files)
        body += f"\nUNION ALL BY NAME\nSELECT * FROM read_parquet([{listing}]{options})"
    if table.retired or table.upgrades:
        body = table.upgraded_select(f"(\n{body}\n)")
    return f"CREATE OR REPLACE VIEW {INTERNAL}.{table.name} AS\n{body}"


def view_summary(sql: str) -> str:
    """The first sentence of a view file's header comment ('-- documents: every stored ...')."""
    header: list[str] = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        text = line[2:].strip()
        if header and (not text or (text.startswith(tuple("abcdefghijklmnopqrstuvwxyz_")) and "  " in text)):
            break
        header.append(text)
    summary = " ".join(header).split(": ", 1)[-1]
    return summary.split(". ")[0].rstrip(".")[:200]


@dataclass(frozen=True)
class Column:
    """A column of a view as its file's header documents it."""

    name: str
    type: str  # DuckDB's type name (VARCHAR, BIGINT, TIMESTAMPTZ, VARCHAR[]...)
    doc: str


_COLUMN_LINE = re.compile(
    r"^--\s{2,5}(?P<names>[a-z_]\w*(?:,\s*[a-z_]\w*)*)\s+"
    r"(?:(?P<type>[A-Z][A-Z0-9_]*(?:\[\])?)|as in (?P<like>\w+))(?:\s+(?P<doc>\S.*))?$"
)
_CONTINUATION = re.compile(r"^--\s{6,}(?P<doc>\S.*)$")
_INHERITED = re.compile(r"^--\s*Columns as in (?P<view>\w+), plus:")


def documented_columns(sql_dir: Path = SQL_DIR) -> dict[str, list[Column]]:
    """Every view's columns as the header comment of its file lists them, in order: the one written
    definition of what a view's column holds (docs/views.md and the catalog's column comments are made
    from it; tests/warehouse/test_columns.py checks it against the views DuckDB builds)."""
    texts = {path.stem: path.read_text(encoding="utf-8") for path in view_files(sql_dir)}
    parsed: dict[str, list[Column]] = {}

    def columns_of(view: str) -> list[Column]:
        if view not in parsed:
            parsed[view] = _parse_header(texts[view], columns_of)
        return parsed[view]

    for view in texts:
        columns_of(view)
    return parsed


def _parse_header(sql: str, columns_of: Callable[[str], list[Column]]) -> list[Column]:
    columns: list[Column] = []
    pending: list[dict[str, str]] = []  # the columns of the line being read (continuations add to them)
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        inherited = _INHERITED.match(line)
        if inherited:
            columns.extend(columns_of(inherited["view"]))
            continue
        match = _COLUMN_LINE.match(line)
        if match:
            like = {c.name: c for c in columns_of(match["like"])} if match["like"] else {}
            pending = []
            for name in re.split(r",\s*", match["names"]):
                if like:
                    entry = {"name": name, "type": like[name].type, "doc": like[name].doc}
                else:
                    entry = {"name": name, "type": match["type"] or "", "doc": match["doc"] or ""}
                columns.append(Column(**entry))
                pending.append(entry)
            continue
        more = _CONTINUATION.match(line)
        if more and pending:
            for entry in pending:
                entry["doc"] = f"{entry['doc']} {more['doc']}".strip()
                index = next(i for i, c in enumerate(columns) if c.name == entry["name"])
                columns[index] = Column(**entry)
            continue
        pending = []
    return columns


def view_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(sql_dir.glob("*.sql"))


def build_views(warehouse: Warehouse, sql_dir: Path = SQL_DIR, only_if_changed: bool = False) -> list[str]:
    """Write a fresh catalog and swap it in; returns the names of the views created. With
    `only_if_changed`, a catalog built from the same statements (same SQL files, same tables with files,
    same DuckDB) is kept as it is, and one whose views are the same but some tables have other files gets
    those tables' base views replaced in a copy (`_patched`: ~0.05 s where a build takes ~0.15 s), unless
    their columns would change."""
    catalog = Path(warehouse.catalog)
    own = {table.name: warehouse.file_groups(table) for table in TABLES}
    base = [base_view_sql(warehouse, table, own[table.name]) for table in TABLES]
    files = view_files(sql_dir)
    texts = [path.read_text(encoding="utf-8") for path in files]
    views = [(p.name, t) for p, t in zip(files, texts, strict=True)]
    names = [path.stem for path in files]
    built = _Built(
        base, views, [warehouse.uri_of(path) for groups in own.values() for f in groups for path in f]
    )
    if only_if_changed:
        previous = _built(catalog)
        if previous.get("fingerprint") == built.fingerprint:
            return names
        if previous.get("views") == built.parts["views"] and _patched(warehouse, catalog, built, previous):
            return names
    catalog.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_of(catalog)
    temp.unlink(missing_ok=True)
    created: list[str] = []
    try:
        with duckdb.connect(str(temp)) as con:
            if not warehouse.local:
                remote.open_remote(con, warehouse.uri)
            con.execute(f"CREATE SCHEMA {INTERNAL}")
            for statement in base:
                con.execute(statement)
            pending = list(zip(files, texts, strict=True))
            # views may build on each other: retry until no progress, then report the first failure
            while pending:
                failed = []
                for path, text in pending:
                    try:
                        con.execute(text)
                        con.execute(f"COMMENT ON VIEW {path.stem} IS {_quote(view_summary(text))}")
                        created.append(path.stem)
                    except duckdb.CatalogException:
                        failed.append((path, text))
                if len(failed) == len(pending):
                    con.execute(failed[0][1])  # raises with DuckDB's message
                pending = failed
            con.execute(
                "BEGIN TRANSACTION"
            )  # ~190 statements: one commit instead of one each (0.09 → 0.02 s)
            _comment_columns(con, sql_dir)
            con.execute("COMMIT")
            built.record(con)
            con.execute("CHECKPOINT")
        os.replace(temp, catalog)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    return created


def _temp_of(catalog: Path) -> Path:
    return catalog.with_name(f".{catalog.name}.{os.getpid()}.{threading.get_ident()}.tmp")


class _Built:
    """What a catalog is built from, as recorded in it: the fingerprint of everything, and a digest of each
    part (the views' files, each table's base view), so that a catalog whose views are the same can have
    only the base views of the tables with other files replaced."""

    def __init__(self, base: list[str], views: list[tuple[str, str]], readable: list[str]) -> None:
        self.base = dict(zip((table.name for table in TABLES), base, strict=True))
        self.fingerprint = catalog_fingerprint(base, views)
        self.parts = {"views": catalog_fingerprint([], views)} | {
            f"base.{name}": hashlib.sha256(statement.encode()).hexdigest()
            for name, statement in self.base.items()
        }
        self.readable = readable

    def record(self, con: duckdb.DuckDBPyConnection) -> None:
        con.execute(
            f"CREATE OR REPLACE TABLE {FILES_TABLE} AS SELECT unnest($1::VARCHAR[]) AS path", [self.readable]
        )
        con.execute(
            f"CREATE OR REPLACE VIEW {FINGERPRINT_VIEW} AS SELECT {_quote(self.fingerprint)} AS fingerprint"
        )
        con.execute(
            f"CREATE OR REPLACE TABLE {BUILT_TABLE} AS SELECT unnest($1::VARCHAR[]) AS part, "
            "unnest($2::VARCHAR[]) AS digest",
            [list(self.parts), list(self.parts.values())],
        )


def _built(catalog: Path) -> dict[str, str]:
    """The fingerprint (`fingerprint`) and part digests a catalog was built with; empty when there is no
    catalog, it predates them, or it cannot be read now (a writer holds it open): then it is rebuilt, which
    is always safe."""
    if not catalog.exists():
        return {}
    try:
        with duckdb.connect(str(catalog), read_only=True) as con:
            row = con.execute(f"SELECT fingerprint FROM {FINGERPRINT_VIEW}").fetchone()
            found = {"fingerprint": row[0]} if row else {}
            with contextlib.suppress(duckdb.CatalogException):  # a catalog from before part digests
                found |= dict(con.execute(f"SELECT part, digest FROM {BUILT_TABLE}").fetchall())
    except duckdb.Error:
        return {}
    return found


def _patched(warehouse: Warehouse, catalog: Path, built: _Built, previous: dict[str, str]) -> bool:
    """Replace, in a copy of the catalog swapped in as a build is, the base views of the tables whose files
    changed. False (nothing swapped: build it anew) when a base view's columns would change (the views on
    it were bound to the old ones) or anything fails."""
    temp = _temp_of(catalog)
    try:
        shutil.copyfile(catalog, temp)
        with duckdb.connect(str(temp)) as con:
            if not warehouse.local:
                remote.open_remote(con, warehouse.uri)
            for name, statement in built.base.items():
                if previous.get(f"base.{name}") == built.parts[f"base.{name}"]:
                    continue
                shape = f"SELECT column_name, column_type FROM (DESCRIBE {INTERNAL}.{name})"
                before = con.execute(shape).fetchall()
                con.execute(statement)
                if con.execute(shape).fetchall() != before:
                    return False
            built.record(con)
            con.execute("CHECKPOINT")
        os.replace(temp, catalog)
        return True
    except (duckdb.Error, OSError):
        return False
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)


def _comment_columns(con: duckdb.DuckDBPyConnection, sql_dir: Path) -> None:
    """Each view's columns carry their documentation (duckdb_columns().comment, DESCRIBE in DuckDB's CLI)."""
    present = set(
        con.execute(
            "SELECT view_name || '.' || column_name FROM duckdb_columns() c "
            "JOIN duckdb_views() v ON c.table_name = v.view_name"
        ).fetchall()
    )
    for view, columns in documented_columns(sql_dir).items():
        for column in columns:
            if (f"{view}.{column.name}",) in present and column.doc:
                con.execute(f'COMMENT ON COLUMN "{view}"."{column.name}" IS {_quote(column.doc)}')


# The catalog's own objects live in a schema of their own, out of the analyst's `SHOW TABLES` and of the
# main schema's views: the base views over each table's files (`internal.documents`...), which the views of
# sql/ read, the files they read, and what the catalog was built from.
INTERNAL = "internal"
FINGERPRINT_VIEW = f"{INTERNAL}.fingerprint"
FILES_TABLE = f"{INTERNAL}.files"  # the files the base views read, as DuckDB names them
BUILT_TABLE = f"{INTERNAL}.built"  # (part, digest): the views' files and each base view, for _patched


def catalog_fingerprint(base: list[str], views: list[tuple[str, str]]) -> str:
    """What a catalog was built from: every statement, the view files' names, and DuckDB's version."""
    digest = hashlib.sha256(duckdb.__version__.encode())
    for part in [*base, *(f"{name}\n{text}" for name, text in views)]:
        digest.update(b"\0" + part.encode())
    return digest.hexdigest()
