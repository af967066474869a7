"""The analysts' way in from Python: a read-only DuckDB connection with every view."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import duckdb

from flows.config import reading_config
from flows.errors import QueryError
from flows.warehouse.store import Warehouse


def connect(
    config: str | Path | None = None,
    warehouse: str | None = None,
    allow_read: list[str] | None = None,
    memory_limit: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A read-only DuckDB connection with every view of the warehouse, for notebooks and scripts:

        from flows.warehouse import connect
        con = connect()                      # or connect("my-sources.toml"), connect(warehouse="wh")
        con.sql("select source, count(*) from articles group by 1").fetchall()  # .arrow(), .df() ...

    The catalog is built first if it does not exist yet, or is rebuilt if it was built for another place
    (a copied or moved warehouse) or other view files (current_catalog). Holding the connection never
    blocks an ingest (it swaps in a new catalog file); reconnect to see views rebuilt since. The connection
    is locked down (lock_down): it reads the warehouse's own files (the ones its views name) and the paths
    in `allow_read`, and nothing else; it uses at most `memory_limit` (the config's [query] memory_limit by
    default) and spills to a private temporary folder, removed when the process ends."""
    from flows.warehouse import remote
    from flows.warehouse.views import FILES_TABLE

    loaded = reading_config(config, warehouse)
    store = Warehouse.of_config(loaded, warehouse)
    store.require_existing("a query")
    con = duckdb.connect(current_catalog(store), read_only=True)
    con.execute("SET memory_limit = $1", [duckdb_memory(memory_limit or loaded.query.memory_limit)])
    spill = tempfile.mkdtemp(prefix="corpus-spill-")
    atexit.register(shutil.rmtree, spill, True)
    con.execute("SET temp_directory = $1", [spill])
    if not store.local:
        remote.open_remote(con, store.uri)
    # exactly the files the views read: not the folders they lie in (a path with `..` in it, another
    # bucket, a file dropped there by someone else, the catalog beside them are then all refused by
    # DuckDB itself; DuckDB does not resolve `..` in URLs)
    files = [row[0] for row in con.execute(f"SELECT path FROM {FILES_TABLE}").fetchall()]
    lock_down(con, files, allow_read or [])
    return con


def duckdb_memory(limit: str) -> str:
    """A memory limit as DuckDB takes it: a share of this machine's memory ('50%') made a size."""
    text = limit.strip()
    if text.endswith("%"):
        import psutil

        share = float(text[:-1]) / 100
        return f"{max(1, int(psutil.virtual_memory().total * share) >> 20)}MiB"
    return text


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


def lock_down(con: duckdb.DuckDBPyConnection, tables: list[str], readable: list[str]) -> None:
    """DuckDB's own guards, whatever statement comes later: no file or URL but the tables' files `tables`
    and `readable` (folders or files) can be opened, so nothing can be written outside them; no extension
    can be installed or loaded; no database attached from a file; no setting changed (these included:
    lock_configuration). The catalog itself is open read-only."""
    folders, files = [], list(tables)
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
