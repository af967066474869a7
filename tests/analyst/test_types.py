"""Every view as analysts read it, through pandas and polars: each column of the type its sql/ header
documents (integer counts as integers, never HUGEINT or DECIMAL; moments with their time zone; lists as
lists), and the catalog shows the analysts' views only (the base views live in schema `internal`)."""

from __future__ import annotations

import subprocess
import sys
import warnings
from decimal import Decimal
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from flows.warehouse import connect
from flows.warehouse.views import documented_columns, view_files

pytestmark = pytest.mark.flow

POLARS = {
    "BIGINT": pl.Int64, "INTEGER": pl.Int32, "SMALLINT": pl.Int16, "UINTEGER": pl.UInt32,
    "DOUBLE": pl.Float64,
    "FLOAT": pl.Float32, "BOOLEAN": pl.Boolean, "DATE": pl.Date, "VARCHAR": pl.String,
}  # fmt: skip


def test_every_view_reads_with_the_documented_types_in_pandas_and_polars(sample_warehouse) -> None:
    documented = documented_columns()
    with connect(sample_warehouse.config) as con:
        for view, columns in documented.items():
            frame = con.sql(f'select * from "{view}"').pl()
            with warnings.catch_warnings():  # DuckDB's own use of pandas 3 deprecations, not ours
                warnings.simplefilter("ignore")
                pandas = con.sql(f'select * from "{view}"').df()
            for column in columns:
                kind, polars, panda = column.type, frame.schema[column.name], pandas[column.name]
                where = f"{view}.{column.name} ({kind}): polars {polars}, pandas {panda.dtype}"
                assert not isinstance(polars, pl.Decimal) and polars != pl.Int128, where
                if kind == "TIMESTAMPTZ":
                    assert isinstance(polars, pl.Datetime) and polars.time_zone, where
                    assert isinstance(panda.dtype, pd.DatetimeTZDtype), where
                elif kind.endswith("[]"):
                    assert isinstance(polars, pl.List), where
                else:
                    assert polars == POLARS[kind], where
                if kind in ("BIGINT", "INTEGER", "SMALLINT", "UINTEGER"):
                    assert pd.api.types.is_integer_dtype(panda.dtype), where
                assert not any(isinstance(v, Decimal) for v in panda.head(50)), where


def test_the_catalog_lists_only_the_documented_views(sample_warehouse) -> None:
    views = sorted(path.stem for path in view_files())
    with connect(sample_warehouse.config) as con:
        assert sorted(row[0] for row in con.sql("show tables").fetchall()) == views
        main = con.sql("select view_name from duckdb_views() where not internal and schema_name = 'main'")
        assert sorted(row[0] for row in main.fetchall()) == views
        tables = con.sql("select table_name from duckdb_tables() where schema_name = 'main'").fetchall()
        assert tables == []  # the list of files the views read is in schema internal too


def test_the_duckdb_shell_shows_only_the_views_and_reads_them(sample_warehouse) -> None:
    """DuckDB's own CLI (the duckdb-cli package), read-only, from another folder."""
    shell = Path(sys.executable).parent / "duckdb"
    if not shell.exists():
        pytest.skip("the duckdb CLI is not installed in this environment (pip install duckdb-cli)")
    done = subprocess.run(
        [str(shell), "-readonly", "-csv", str(sample_warehouse.catalog), "-c", "show tables",
         "-c", "select count(*) as n from articles", "-c", "describe runs"],
        capture_output=True, text=True, timeout=60, cwd="/", check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    views = sorted(path.stem for path in view_files())
    assert lines[: len(views) + 1] == ["name", *views]
    assert lines[len(views) + 1] == "n" and int(lines[len(views) + 2]) > 5
    assert "seen,BIGINT" in done.stdout and "HUGEINT" not in done.stdout


def test_the_reading_commands_need_only_the_warehouse_from_any_folder(
    sample_warehouse, tmp_path: Path
) -> None:
    """No config file beside, none named: `--warehouse` is all sql, search, stats and report read."""
    from command import corpus

    warehouse = str(sample_warehouse.folder / "wh")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    commands = [
        ("sql", "select count(*) as n from articles", "--format", "csv"),
        ("search", "border"),
        ("stats",),
        ("report", "--output", str(tmp_path / "r.html")),
    ]
    for command in commands:
        done = corpus(*command, "--warehouse", warehouse, cwd=elsewhere)
        assert done.returncode == 0, (command, done.stderr)
    assert corpus("sql", "select 1", "--warehouse", warehouse, cwd=elsewhere).stdout.strip()
    named = corpus("sql", "select 1", "-c", "missing.toml", "--warehouse", warehouse, cwd=elsewhere)
    assert named.returncode == 2 and "missing.toml: config file not found" in named.stderr  # named: needed
