"""`corpus stats`: what the warehouse holds, on disk and in the views."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import duckdb
import pyarrow as pa

from flows.analyst import query
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import TABLES

QUERIES = MappingProxyType(
    {
        "per source": """
            select source, documents, articles, duplicates,
                   round(100.0 * duplicates / nullif(documents, 0), 1) as "duplicates %",
                   rejects, runs, last_status
            from sources order by source""",
        "per day (latest 14 days with articles)": """
            select day, sum(articles) as articles, sum(words) as words, string_agg(source, ', ') as sources
            from daily_counts group by day order by day desc limit 14""",
        "rejects by reason": """
            select reason, count(*) as pages, count(distinct source) as sources
            from rejects group by reason order by pages desc""",
    }
)


@dataclass(frozen=True)
class TableSize:
    table: str
    files: int
    bytes: int


def sizes(warehouse: Warehouse) -> list[TableSize]:
    """Files and bytes of each stored table, then of the raw archive (the web pages as fetched)."""
    result = []
    for table in TABLES:
        files = list(warehouse.files(table))
        total = sum(info.size for info in warehouse.fs.get_file_info(files)) if files else 0
        result.append(TableSize(table.name, len(files), total))
    raw = warehouse.raw_archive_files()
    result.append(TableSize("raw archive", len(raw), sum(info.size for info in raw)))
    return result


def ignored(warehouse: Warehouse) -> list[tuple[str, str, str]]:
    """(table, file relative to the warehouse, why) of each Parquet file in the table folders that the
    warehouse did not write (warehouse/files.py): left out of every read."""
    root = warehouse.root.rstrip("/") + "/"
    return [
        (table.name, refused.path.removeprefix(root), refused.reason)
        for table in TABLES
        for refused in warehouse.refused(table)
    ]


def reports(con: duckdb.DuckDBPyConnection, timeout: float | None = None) -> dict[str, pa.Table]:
    """Each of QUERIES' results, by title (each statement stopped after `timeout` seconds)."""
    return {title: query.run(con, sql, timeout) for title, sql in QUERIES.items()}
