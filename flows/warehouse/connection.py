"""The analysts' way in from Python: a read-only DuckDB connection with every view."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from flows.config import default_config_path, load_config
from flows.warehouse.store import Warehouse

if TYPE_CHECKING:
    import duckdb


def connect(config: str | Path | None = None, warehouse: str | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection with every view of the warehouse, for notebooks and scripts:

        from flows.warehouse import connect
        con = connect()                      # or connect("my-sources.toml"), connect(warehouse="wh")
        con.sql("select source, count(*) from articles group by 1").df()

    The catalog is built first if it does not exist yet. Holding the connection never blocks an ingest
    (it swaps in a new catalog file); reconnect to see views rebuilt since."""
    import duckdb

    from flows.warehouse import duckdb_extensions
    from flows.warehouse.views import build_views

    store = Warehouse.of_config(load_config(config or default_config_path()), warehouse)
    if not os.path.exists(store.catalog):
        build_views(store)
    con = duckdb.connect(store.catalog, read_only=True)
    if not store.local:
        duckdb_extensions.load(con, "httpfs")
    return con
