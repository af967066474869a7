"""The Parquet warehouse and what is derived from it.

tables.py            the stored tables: schemas and partitioning
store.py             Warehouse: where tables live, publishing files atomically, what runs leave behind
ids.py               run ids; doc ids and text hashes as 64-bit keys, in bulk
views.py             the DuckDB catalog (sql/*.sql over the tables)
search_index.py      the full-text index (search.sqlite)
compact.py           merging each partition's small files, atomically
duckdb_extensions.py loading DuckDB extensions offline
connection.py        connect(): a read-only DuckDB connection for analysts
"""

from flows.warehouse.connection import connect
from flows.warehouse.store import Warehouse

__all__ = ["Warehouse", "connect"]
