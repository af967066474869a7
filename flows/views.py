"""The DuckDB catalog: base views over the Parquet tables, then the analysts' views from sql/*.sql.

The catalog is rebuilt into a new file and renamed over the old one, so an analyst holding corpus.duckdb
open (even read-only, which DuckDB treats as a lock against writers) never blocks an ingest: they keep
reading the old file until they reconnect. Views glob the Parquet files at query time, so files committed
after the catalog was built are seen without a rebuild.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow as pa

from flows import duckdb_extensions
from flows.warehouse import TABLES, Table, Warehouse

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"


def duckdb_type(data_type: pa.DataType) -> str:
    if pa.types.is_string(data_type):
        return "VARCHAR"
    if pa.types.is_int16(data_type):
        return "SMALLINT"
    if pa.types.is_int32(data_type):
        return "INTEGER"
    if pa.types.is_int64(data_type):
        return "BIGINT"
    if pa.types.is_float64(data_type):
        return "DOUBLE"
    if pa.types.is_float32(data_type):
        return "FLOAT"
    if pa.types.is_uint32(data_type):
        return "UINTEGER"
    if pa.types.is_boolean(data_type):
        return "BOOLEAN"
    if pa.types.is_date32(data_type):
        return "DATE"
    if pa.types.is_timestamp(data_type):
        return "TIMESTAMPTZ" if data_type.tz else "TIMESTAMP"
    if pa.types.is_list(data_type):
        return duckdb_type(data_type.value_type) + "[]"
    raise TypeError(f"no DuckDB type for {data_type}")


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def base_view_sql(warehouse: Warehouse, table: Table) -> str:
    """`_<table>_raw`: every column of the declared schema (null where an older file lacks it), plus the
    partition columns; an empty typed relation while the table has no files yet."""
    columns = [f"CAST(NULL AS {duckdb_type(f.type)}) AS {f.name}" for f in table.schema]
    columns += [f"CAST(NULL AS VARCHAR) AS {p}" for p in table.partitions]
    empty = f"SELECT {', '.join(columns)} WHERE false"
    body = empty
    if warehouse.has_files(table):
        hive = ", ".join(f"{_quote(p)}: 'VARCHAR'" for p in table.partitions)
        options = "union_by_name = true"
        if table.partitions:
            options += f", hive_partitioning = true, hive_types = {{{hive}}}"
        files = _quote(warehouse.table_glob(table))
        body = f"{empty}\nUNION ALL BY NAME\nSELECT * FROM read_parquet({files}, {options})"
    return f"CREATE OR REPLACE VIEW _{table.name}_raw AS\n{body}"


def view_summary(sql: str) -> str:
    """The first sentence of a view file's header comment ('-- documents: every stored ...')."""
    header = []
    for line in sql.splitlines():
        if not line.startswith("--"):
            break
        text = line[2:].strip()
        if header and (not text or (text.startswith(tuple("abcdefghijklmnopqrstuvwxyz_")) and "  " in text)):
            break
        header.append(text)
    summary = " ".join(header).split(": ", 1)[-1]
    return summary.split(". ")[0].rstrip(".")[:200]


def view_files(sql_dir: Path = SQL_DIR) -> list[Path]:
    return sorted(sql_dir.glob("*.sql"))


def build_views(warehouse: Warehouse, sql_dir: Path = SQL_DIR) -> list[str]:
    """Write a fresh catalog and swap it in; returns the names of the views created."""
    catalog = Path(warehouse.catalog)
    catalog.parent.mkdir(parents=True, exist_ok=True)
    temp = catalog.with_name(f".{catalog.name}.{os.getpid()}.tmp")
    temp.unlink(missing_ok=True)
    created: list[str] = []
    try:
        with duckdb.connect(str(temp)) as con:
            if not warehouse.local:
                duckdb_extensions.load(con, "httpfs")
            for table in TABLES:
                con.execute(base_view_sql(warehouse, table))
            pending = view_files(sql_dir)
            # views may build on each other: retry until no progress, then report the first failure
            while pending:
                failed = []
                for path in pending:
                    try:
                        text = path.read_text(encoding="utf-8")
                        con.execute(text)
                        con.execute(f"COMMENT ON VIEW {path.stem} IS {_quote(view_summary(text))}")
                        created.append(path.stem)
                    except duckdb.CatalogException:
                        failed.append(path)
                if len(failed) == len(pending):
                    con.execute(failed[0].read_text(encoding="utf-8"))  # raises with DuckDB's message
                pending = failed
            con.execute("CHECKPOINT")
        os.replace(temp, catalog)
    finally:
        temp.unlink(missing_ok=True)
        Path(f"{temp}.wal").unlink(missing_ok=True)
    return created
