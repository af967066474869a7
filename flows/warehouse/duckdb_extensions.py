"""Loading DuckDB extensions offline: from DuckDB's own extension folder when installed there, else from
the `duckdb-extension-<name>` PyPI package (pinned beside duckdb), which ships the binary."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import duckdb

from flows.errors import ExtensionUnavailable


def load(con: duckdb.DuckDBPyConnection, name: str) -> None:
    try:
        con.execute(f"LOAD {name}")
        return
    except duckdb.Error:
        pass
    binary = packaged(name)
    if binary is None:
        raise ExtensionUnavailable(
            f"DuckDB's {name} extension is not available: "
            f"pip install duckdb-extension-{name}=={duckdb.__version__}"
        )
    try:
        con.execute(f"LOAD '{binary}'")
    except duckdb.Error as exc:
        raise ExtensionUnavailable(f"DuckDB's {name} extension did not load from {binary}: {exc}") from None


def packaged(name: str) -> Path | None:
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations)))
    binary = folder / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
    return binary if binary.exists() else None
