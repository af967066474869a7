"""The `corpus` command: parse arguments, call the pipeline, render results. No business logic here."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.config import ConfigError, load_config
from flows.sources import location

app = typer.Typer(
    help="Ingest news and web articles into a de-duplicated Parquet warehouse; query it with SQL.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
sources_app = typer.Typer(help="Inspect the sources of a config.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")

# Not a terminal (a pipe, CI): render tables wide instead of rich's 80 columns.
out = Console() if sys.stdout.isatty() else Console(width=160)
err = Console(stderr=True)

ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", envvar="CORPUS_CONFIG", help="Sources config (TOML).")
]
WarehouseOption = Annotated[
    str | None,
    typer.Option("--warehouse", "-w", help="Warehouse folder; overrides the config's [warehouse] path."),
]
DEFAULT_CONFIG = Path("seeds/sources.toml")


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _warehouse(config_path: Path, override: str | None):
    from flows.pipeline import open_warehouse

    try:
        return open_warehouse(load_config(config_path), override)
    except ConfigError as exc:
        fail(str(exc))
    except ValueError as exc:
        fail(str(exc))


class _ProgressBar:
    """Listens to pipeline progress events and draws one bar per source."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bars: dict[str, Any] = {}

    def source_started(self, source: str, total_units: int) -> None:
        self.bars[source] = self.progress.add_task(source, total=None, units=f"0/{total_units} units")
        self.units = {source: [0, total_units]}

    def pages_done(self, source: str, count: int) -> None:
        if source in self.bars:
            self.progress.advance(self.bars[source], count)

    def unit_done(self, source: str) -> None:
        if source in self.bars:
            done = self.units[source]
            done[0] += 1
            self.progress.update(self.bars[source], units=f"{done[0]}/{done[1]} units")


SourceOption = Annotated[
    list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's flow and task logs.")]


@app.command()
def ingest(
    config: ConfigOption = DEFAULT_CONFIG,
    source: SourceOption = None,
    warehouse: WarehouseOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Ingest the config's sources into the warehouse, then rebuild the views."""
    _run_flow("ingest", config, source, warehouse, verbose)


@app.command()
def reextract(
    config: ConfigOption = DEFAULT_CONFIG,
    source: SourceOption = None,
    warehouse: WarehouseOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Extract the web sources' pages again from the raw archive (no network): texts that come out
    different (a newer trafilatura, other settings) are stored as new versions."""
    _run_flow("reextract", config, source, warehouse, verbose)


def _run_flow(
    name: str, config: Path, source: list[str] | None, warehouse: str | None, verbose: bool
) -> None:
    try:
        load_config(config).select(source)  # fail fast, before Prefect starts, on a bad config
    except ConfigError as exc:
        fail(str(exc))
    from flows import prefect_settings

    if not verbose:
        prefect_settings.quiet_console()
    from flows import ingest as flows_module
    from flows import progress as pipeline_progress

    run_flow = getattr(flows_module, name)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} pages"),
        TextColumn("{task.fields[units]}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=err, transient=False) as bar:
        pipeline_progress.listen(_ProgressBar(bar))
        try:
            summary = run_flow(str(config), source or None, warehouse)
        except ConfigError as exc:
            fail(str(exc))
        finally:
            pipeline_progress.listen(None)
    _print_summary(summary)
    if not summary.ok:
        raise typer.Exit(1)


def _print_summary(summary: Any) -> None:
    table = Table(title=f"run {summary.run_id}", title_justify="left", box=box.SIMPLE_HEAD)
    counts = ("seen", "extracted", "duplicates", "rejected", "written", "unchanged")
    for name in ("source", "status", *counts, "seconds"):
        table.add_column(
            name,
            justify="left" if name in ("source", "status") else "right",
            no_wrap=True,
            min_width=len(name),
        )
    for name, stats in summary.sources.items():
        table.add_row(
            name,
            stats.status,
            *(str(getattr(stats, f)) for f in counts),
            f"{stats.seconds:.1f}",
        )
    total = summary.total()
    table.add_row(
        "[bold]total",
        "",
        *(f"[bold]{getattr(total, f)}" for f in counts),
        f"[bold]{summary.seconds:.1f}",
    )
    out.print(table)
    for name, stats in summary.sources.items():
        if stats.error:
            err.print(f"[red]source {name}:[/] {stats.error}", highlight=False, soft_wrap=True)
    out.print(f"warehouse: {summary.warehouse}\nviews:     {summary.catalog}", highlight=False)


@app.command()
def views(config: ConfigOption = DEFAULT_CONFIG, warehouse: WarehouseOption = None) -> None:
    """Rebuild the DuckDB views (corpus.duckdb) from sql/*.sql."""
    from flows.views import build_views

    store = _warehouse(config, warehouse)
    created = build_views(store)
    out.print(f"{len(created)} views in {store.catalog}: {', '.join(sorted(created))}", highlight=False)


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="SQL to run against the views (read-only).")],
    config: ConfigOption = DEFAULT_CONFIG,
    warehouse: WarehouseOption = None,
    output_format: Annotated[
        OutputFormat, typer.Option("--format", "-f", help="Output format.")
    ] = OutputFormat.table,
) -> None:
    """Run one SQL query against the warehouse views and print the result."""
    import duckdb

    from flows.views import build_views

    store = _warehouse(config, warehouse)
    if not Path(store.catalog).exists():
        build_views(store)
    try:
        with duckdb.connect(store.catalog, read_only=True) as con:
            cursor = con.execute(query)
            names = [d[0] for d in cursor.description] if cursor.description else []
            rows = cursor.fetchall()
    except duckdb.Error as exc:
        fail(" ".join(str(exc).split()), code=1)
    _print_rows(names, rows, output_format)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _print_rows(names: list[str], rows: list[tuple], output_format: OutputFormat) -> None:
    if output_format is OutputFormat.json:
        json.dump(
            [dict(zip(names, map(_plain, row), strict=True)) for row in rows],
            sys.stdout,
            ensure_ascii=False,
            indent=1,
            default=str,
        )
        sys.stdout.write("\n")
    elif output_format is OutputFormat.csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(names)
        writer.writerows(
            [[json.dumps(_plain(v)) if isinstance(v, list) else _plain(v) for v in row] for row in rows]
        )
    else:
        table = Table(*names, show_lines=False)
        for row in rows:
            table.add_row(*("" if v is None else str(_plain(v)) for v in row))
        out.print(table)
        out.print(f"{len(rows)} row{'s' if len(rows) != 1 else ''}", style="dim")


@sources_app.command("list")
def sources_list(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """List the config's sources."""
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        fail(str(exc))
    table = Table("name", "kind", "location", "enabled")
    for source in cfg.sources:
        where = cfg.resolve(source.path) if source.kind in ("files", "warc") else location(source)
        table.add_row(source.name, source.kind, where, "yes" if source.enabled else "no")
    out.print(table)


def main() -> None:
    app()
