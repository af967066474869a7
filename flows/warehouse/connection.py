"""The analysts' way in from Python: a read-only DuckDB connection with every view."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from flows.config import default_config_path, load_config
from flows.errors import QueryError
from flows.warehouse.store import Warehouse


def connect(
    config: str | Path | None = None, warehouse: str | None = None, allow_read: list[str] | None = None
) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection with every view of the warehouse, for notebooks and scripts:

        from flows.warehouse import connect
        con = connect()                      # or connect("my-sources.toml"), connect(warehouse="wh")
        con.sql("select source, count(*) from articles group by 1").fetchall()  # .arrow(), .df() ...

    The catalog is built first if it does not exist yet, or is rebuilt if it was built for another place
    (a copied or moved warehouse) or other view files (current_catalog). Holding the connection never
    blocks an ingest (it swaps in a new catalog file); reconnect to see views rebuilt since. The connection
    is locked down (lock_down): it reads the warehouse and the paths in `allow_read`, and nothing else."""
    from flows.warehouse import remote
    from flows.warehouse.tables import TABLES

    store = Warehouse.of_config(load_config(config or default_config_path()), warehouse)
    con = duckdb.connect(current_catalog(store), read_only=True)
    if not store.local:
        remote.open_remote(con, store.uri)
    # the tables' folders only: not the catalog beside them (never attached read-write), nor new files
    # at the root
    tables = [f"{store.uri}/{table.name}" for table in TABLES]
    lock_down(con, [*tables, *(allow_read or [])])
    return con


def current_catalog(store: Warehouse) -> str:
    """The catalog, rebuilt first when it was built from anything else than this warehouse's files and
    today's view files (its fingerprint holds both: a copied or moved warehouse's catalog names the old
    place, and is rebuilt to read its own files). A warehouse that cannot be written gets its views in a
    private catalog in the temporary folder instead."""
    from flows.warehouse.views import build_views

    try:
        build_views(store, only_if_changed=True)
        return store.catalog
    except (OSError, duckdb.Error):
        folder = tempfile.mkdtemp(prefix="corpus-catalog-")
        atexit.register(shutil.rmtree, folder, True)
        private = os.path.join(folder, "corpus.duckdb")
        build_views(Warehouse(store.root if store.local else store.uri, catalog=private))
        return private


def lock_down(con: duckdb.DuckDBPyConnection, readable: list[str]) -> None:
    """DuckDB's own guards, whatever statement comes later: no file or URL outside `readable` (folders
    or files) can be opened, so nothing can be written outside them; no extension can be installed or
    loaded; no database attached from a file; no setting changed (these included: lock_configuration).
    The catalog itself is open read-only."""
    folders, files = [], []
    for entry in readable:
        local = "://" not in entry
        path = os.path.abspath(entry) if local else entry
        if local and os.path.isfile(path):
            files.append(path)
        else:
            folders.append(path.rstrip("/") + "/")
    locked = con.execute("SELECT current_setting('lock_configuration')").fetchone()
    if locked and locked[0]:  # a connection to this catalog is already open in this process: same DB
        current = con.execute(
            "SELECT current_setting('allowed_directories'), current_setting('allowed_paths')"
        ).fetchone()
        assert current is not None
        if set(folders) <= set(current[0]) and set(files) <= set(current[1]):
            return
        con.close()
        raise QueryError(
            "another connection to this catalog is open in this process with other readable paths: "
            "close it first"
        )
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET autoload_known_extensions = false")
    con.execute("SET allow_community_extensions = false")
    persistent = con.execute("SELECT current_setting('allow_persistent_secrets')").fetchone()
    if persistent and persistent[0]:  # (remote.open_remote turned it off already, before its secret)
        con.execute("SET allow_persistent_secrets = false")  # else httpfs looks in ~/.duckdb/stored_secrets
    con.execute("SET allowed_directories = $1", [folders])
    con.execute("SET allowed_paths = $1", [files])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
