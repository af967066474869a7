"""The `corpus` command: parse arguments, call the pipeline, render results. No business logic here.

An expected failure (a CorpusError: a bad config, a source that cannot be read, a refused query) is not
caught by the commands: main() prints it as one line and exits with the code its kind says."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import time
from contextlib import nullcontext
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, get_args

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from flows.analyst.query import NO_LIMIT, Format, natural_width
from flows.config import DEFAULT_CONFIG, Config, load_config, reading_config
from flows.errors import CorpusError
from flows.sources import kind, location

if TYPE_CHECKING:
    from collections.abc import Callable

    from flows.records import RunSummary
    from flows.warehouse.store import Warehouse

app = typer.Typer(
    no_args_is_help=True,
    add_completion=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
sources_app = typer.Typer(
    help="List, check and add the sources of a config.", no_args_is_help=True, rich_markup_mode="markdown"
)
app.add_typer(sources_app, name="sources")

# Not a terminal (a pipe, a file, CI): tables are rendered at their full width, nothing cut (rich would
# take 80 columns), unless COLUMNS says otherwise.
out = Console() if sys.stdout.isatty() or os.environ.get("COLUMNS", "").isdigit() else Console(width=NO_LIMIT)
err = Console(stderr=True)


def version() -> str:
    """`corpus 0.1.0 (trafilatura 2.3.1, prefect 3.8.8, duckdb 1.5.5, python 3.11.2)`: what a bug report
    needs."""
    import platform
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    def of(package: str) -> str:
        try:
            return installed(package)
        except PackageNotFoundError:
            return "not installed"

    parts = ", ".join(f"{name} {of(name)}" for name in ("trafilatura", "prefect", "duckdb", "pyarrow"))
    return f"corpus {of('corpus-pipeline')} ({parts}, python {platform.python_version()})"


def _show_version(value: bool) -> None:
    if value:
        sys.stdout.write(version() + "\n")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", is_eager=True, callback=_show_version, help="Show the versions and exit."
        ),
    ] = False,
) -> None:
    """Ingest news and web articles into a de-duplicated Parquet warehouse; query it with SQL."""


ConfigOption = Annotated[
    Path, typer.Option("--config", "-c", envvar="CORPUS_CONFIG", help="Sources config (TOML).")
]
WarehouseOption = Annotated[
    str | None,
    typer.Option("--warehouse", "-w", help="Warehouse folder; overrides the config's [warehouse] path."),
]


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _refuse_output_inside(output: Path | None, config: Path, override: str | None) -> None:
    """Results are never written into the warehouse (among its files, or where it keeps its catalog)."""
    if output is not None and _warehouse(config, override).holds(output):
        fail(f"--output {output}: inside the warehouse; write results somewhere else")


def _warehouse(config_path: Path, override: str | None) -> Warehouse:
    """The warehouse a command works on: `--warehouse` alone is enough (no config file needed)."""
    from flows.warehouse.store import Warehouse

    return Warehouse.of_config(reading_config(config_path, override), override)


class _ProgressBar:
    """Listens to pipeline progress events and draws one bar per source."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.bars: dict[str, Any] = {}
        self.units: dict[str, list[int]] = {}
        self.fetched: dict[str, int] = {}

    def source_started(self, source: str, total_units: int, total_pages: int | None) -> None:
        self.bars[source] = self.progress.add_task(
            source, total=total_pages, units=f"0/{total_units} units", fetched=""
        )
        self.units[source] = [0, total_units]
        self.fetched[source] = 0

    def pages_fetched(self, source: str, count: int) -> None:
        if source in self.bars:
            self.fetched[source] += count
            self.progress.update(self.bars[source], fetched=f"{self.fetched[source]} fetched")

    def pages_done(self, source: str, count: int) -> None:
        if source in self.bars:
            self.progress.advance(self.bars[source], count)

    def unit_done(self, source: str) -> None:
        if source in self.bars:
            done = self.units[source]
            done[0] += 1
            self.progress.update(self.bars[source], units=f"{done[0]}/{done[1]} units")

    def note(self, message: str) -> None:
        self.progress.console.print(message, style="dim", highlight=False)


SourceOption = Annotated[
    list[str] | None, typer.Option("--source", "-s", help="Only this source (repeatable).")
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's flow and task logs.")]


class SummaryFormat(StrEnum):
    table = "table"
    json = "json"
    markdown = "markdown"


SummaryFormatOption = Annotated[
    SummaryFormat,
    typer.Option(
        "--format", "-f", help="The run's summary as a table, as JSON (for scripts) or as markdown."
    ),
]


@app.command()
def ingest(
    config: ConfigOption = DEFAULT_CONFIG,
    source: SourceOption = None,
    warehouse: WarehouseOption = None,
    verbose: VerboseOption = False,
    full: Annotated[
        bool, typer.Option("--full", help="Read every local input file again, changed or not.")
    ] = False,
    output_format: SummaryFormatOption = SummaryFormat.table,
) -> None:
    """Ingest the config's sources into the warehouse, then rebuild the views. Local files (HTML, WARC)
    ingested before and unchanged since are skipped; a WARC file that grew is read from where it was left.
    Exits 1 when a source failed (the other sources' work is committed)."""
    _run_flow("ingest", config, source, warehouse, verbose, full, output_format)


@app.command()
def reextract(
    config: ConfigOption = DEFAULT_CONFIG,
    source: SourceOption = None,
    warehouse: WarehouseOption = None,
    verbose: VerboseOption = False,
    output_format: SummaryFormatOption = SummaryFormat.table,
) -> None:
    """Extract the web sources' pages again from the raw archive (no network): texts that come out
    different (a newer trafilatura, other settings) are stored as new versions; documents already stored
    get the metadata read from their pages now."""
    _run_flow("reextract", config, source, warehouse, verbose, output_format=output_format)


def _run_flow(
    name: str,
    config: Path,
    source: list[str] | None,
    warehouse: str | None,
    verbose: bool,
    full: bool = True,
    output_format: SummaryFormat = SummaryFormat.table,
) -> None:
    from flows.sources import fetched_sources
    from flows.warehouse.store import Warehouse

    # fail fast, before Prefect starts, on a bad config, warehouse or cluster (main() prints the line)
    loaded = load_config(config)
    if not loaded.select(source):
        fail(f"{config}: no enabled source (set enabled = true on one, or name one with --source)", 2)
    store = Warehouse.of_config(loaded, warehouse)
    store.require_writable(f"corpus {name}")
    if loaded.runner.kind != "threads":
        from flows.run import cluster

        cluster.check_cluster(loaded, store, loaded.select(source))
    if name == "reextract":
        fetched_sources(loaded, source)
    from flows.prefect_server import running_server, server_home
    from flows.run.unit import warming

    if "PREFECT_API_URL" not in os.environ:  # this warehouse's `corpus server` (or serve) is running: use it
        url = running_server(server_home(store.catalog if store.local else None))
        if url is not None:
            os.environ["PREFECT_API_URL"] = url
            err.print(f"reporting to this warehouse's Prefect server at {url} (corpus server)", style="dim")
    # the extraction pool's processes start on the other cores while Prefect is imported and the flow run
    # created (~1.5 s); the run takes the pool (a cluster's run extracts elsewhere: nothing to warm)
    warm = warming(loaded.extract, loaded.dedup) if loaded.runner.kind == "threads" else nullcontext()
    with warm:
        _run_flow_warmed(name, config, source, warehouse, verbose, full, output_format)


def _run_flow_warmed(
    name: str,
    config: Path,
    source: list[str] | None,
    warehouse: str | None,
    verbose: bool,
    full: bool,
    output_format: SummaryFormat,
) -> None:
    # Prefect's import allocates ~150,000 objects that live as long as the process: no collection while
    # they are made (each would walk all of them: ~0.15 s in all), and the run's collections skip them.
    gc.disable()
    try:
        from flows import prefect_settings

        if not verbose:
            prefect_settings.quiet_console()
            prefect_settings.quiet_temporary_server()
        from flows import ingest as flows_module
        from flows.run.progress import watching
    finally:
        gc.freeze()
        gc.enable()

    run_flow = getattr(flows_module, name)
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} pages"),
        TextColumn("{task.fields[fetched]}"),
        TextColumn("{task.fields[units]}"),
        TimeElapsedColumn(),
    ]
    with (
        Progress(*columns, console=err, transient=False) as bar,
        watching(_ProgressBar(bar)),
        prefect_settings.without_heartbeats(),
    ):
        state = run_flow(str(config), source or None, warehouse, full, return_state=True)
    summary = flows_module.summary_of(state)
    _print_summary(summary, output_format)
    if not summary.ok:
        raise typer.Exit(1)


def _print_summary(summary: RunSummary, output_format: SummaryFormat = SummaryFormat.table) -> None:
    """The run's summary on stdout; its errors also on stderr, one line each, when it is a table."""
    if output_format is SummaryFormat.json:
        sys.stdout.write(summary.model_dump_json(indent=1) + "\n")
        return
    if output_format is SummaryFormat.markdown:
        sys.stdout.write(summary.markdown())
        return
    out.print(f"[bold]run {summary.run_id}[/]: {summary.status}", highlight=False)
    out.print(summary_table(summary, out.width))
    for name, stats in summary.sources.items():
        if stats.error:
            named = stats.error.startswith(f"source {name!r}")  # most errors name their source already
            line = escape(stats.error if named else f"source {name!r}: {stats.error}")
            err.print(f"[red]error:[/] {line}", highlight=False, soft_wrap=True)
        elif stats.many_rejected:
            share = f"{stats.rejected} of {stats.seen} pages rejected ({stats.reasons_line()})"
            err.print(
                f"[yellow]warning:[/] source {name!r}: {escape(share)}", highlight=False, soft_wrap=True
            )
    out.print(f"warehouse: {summary.warehouse}\nviews:     {summary.catalog}", highlight=False)


def summary_table(summary: RunSummary, width: int) -> Any:
    """The run's figures in `width` columns, every number whole: a row per source when that fits; else a
    column per source (the counts as rows); else, for many sources, a block of wrapped `count value` pairs
    per source (wrapped between pairs, never inside one)."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.text import Text

    from flows.records import COUNTS as counts

    total = summary.total()
    rows = [*summary.sources.items(), ("total", total)]
    figures = {
        name: [*(str(getattr(stats, c)) for c in counts), f"{stats.seconds:.1f}"] for name, stats in rows
    }
    labels = [*counts, "seconds"]
    wide = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for label in ("source", "status", *labels):
        left = label in ("source", "status")
        wide.add_column(label, justify="left" if left else "right", no_wrap=True)
    for name, stats in rows:
        bold = "[bold]" if name == "total" else ""
        status = "" if name == "total" else stats.status
        wide.add_row(escape(name) if not bold else f"{bold}total", status, *(bold + f for f in figures[name]))
    if natural_width(wide) <= width:
        return wide
    tall = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    tall.add_column("", no_wrap=True)
    for name, _ in rows:
        tall.add_column(escape(name), justify="right", no_wrap=True)
    tall.add_row("status", *(stats.status if name != "total" else "" for name, stats in rows))
    for index, label in enumerate(labels):
        tall.add_row(label, *(figures[name][index] for name, _ in rows))
    if natural_width(tall) <= width:
        return tall
    blocks: list[Text | Padding] = []
    for name, stats in rows:
        pairs = "  ".join(
            f"{label}\u00a0{figure}" for label, figure in zip(labels, figures[name], strict=True)
        )
        head = Text(f"{name}" + ("" if name == "total" else f" ({stats.status})"), style="bold")
        blocks += [head, Padding(Text(pairs, overflow="fold"), (0, 0, 0, 2))]
    return Group(*blocks)


@app.command()
def views(config: ConfigOption = DEFAULT_CONFIG, warehouse: WarehouseOption = None) -> None:
    """Rebuild the DuckDB views (corpus.duckdb) from sql/*.sql."""
    from flows.warehouse.views import build_views

    store = _warehouse(config, warehouse)
    store.require_writable("corpus views")
    created = build_views(store)
    out.print(f"{len(created)} views in {store.catalog}: {', '.join(sorted(created))}", highlight=False)


# A query may begin with a `--` comment: what click does not know as an option is the query.
@app.command(context_settings={"ignore_unknown_options": True})
def sql(
    statement: Annotated[
        str | None, typer.Argument(metavar="[QUERY]", help="SQL to run (read-only); none opens the shell.")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    warehouse: WarehouseOption = None,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
    allow_read: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-read",
            metavar="PATH",
            help="Also let queries read this file or folder (repeatable); only the warehouse otherwise.",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", min=0.001, help="Stop a statement after this many seconds ([query] timeout)."
        ),
    ] = None,
    memory_limit: Annotated[
        str | None,
        typer.Option(
            "--memory-limit", help="Memory for the query: 4GB, 500MB or 50% ([query] memory_limit)."
        ),
    ] = None,
) -> None:
    """Run one SQL query against the warehouse views, or open an interactive SQL shell without one.
    Ctrl-C stops the statement running (the shell goes on)."""
    from flows.analyst import query
    from flows.analyst.shell import run_shell
    from flows.config import check_memory_limit
    from flows.warehouse import connect

    query.check_sink(output_format, output)
    if memory_limit is not None:
        try:
            check_memory_limit(memory_limit)
        except ValueError as exc:
            fail(f"--memory-limit: {exc}")
    _refuse_output_inside(output, config, warehouse)
    limit = timeout or reading_config(config, warehouse).query.timeout
    con = connect(config, warehouse, allow_read, memory_limit)
    with con:
        if statement is None:
            raise typer.Exit(run_shell(con, out, err, limit))
        result = query.run(con, statement, limit)
        query.write(result, output_format, output, out)
    if output is not None:
        err.print(f"{result.num_rows} rows written to {output}", highlight=False)


@app.command()
def search(
    words: Annotated[str, typer.Argument(help="Words to look for (BM25 over title and text, stemmed).")],
    config: ConfigOption = DEFAULT_CONFIG,
    warehouse: WarehouseOption = None,
    source: Annotated[str | None, typer.Option("--source", "-s", help="Only this source.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Published on or after: YYYY-MM-DD, or an age: 7d, 2w.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=100_000, help="At most this many results.")
    ] = 10,
    output_format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.table,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file.")] = None,
) -> None:
    """Full-text search over the articles, best matches first, with a snippet."""
    import duckdb

    from flows.analyst import query
    from flows.analyst import search as searching

    store = _warehouse(config, warehouse)
    _refuse_output_inside(output, config, warehouse)
    try:
        result = searching.search(store, words, source, _since(since), limit)
    except duckdb.Error as exc:
        fail(query.one_line(exc), code=1)
    if output_format is Format.table and output is None:
        for rank, row in enumerate(result.to_pylist(), 1):
            when = row["published_date"].isoformat() if row["published_date"] else "undated"
            out.print(
                f"[bold]{rank}. {row['title'] or row['url']}[/]  [dim]{row['score']}[/]", highlight=False
            )
            out.print(f"   {row['source']} · {when} · {row['url']}", style="dim", highlight=False)
            out.print(f"   {row['snippet']}\n", highlight=False)
        out.print(f"{result.num_rows} result{'s' if result.num_rows != 1 else ''}", style="dim")
        return
    query.write(result, output_format, output, out)


def _since(value: str | None) -> date | None:
    from flows.config import parse_age

    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        pass
    try:
        return (datetime.now().astimezone() - parse_age(value)).date()
    except ValueError:
        fail(f"--since {value!r}: give a date (2025-07-01) or an age (7d, 2w)")


@app.command()
def stats(config: ConfigOption = DEFAULT_CONFIG, warehouse: WarehouseOption = None) -> None:
    """Sizes on disk, counts per source and per day, the duplicates ratio and rejects by reason."""
    from flows.analyst import query
    from flows.analyst import stats as statistics
    from flows.warehouse import connect

    store = _warehouse(config, warehouse)
    store.require_existing("corpus stats")
    sizes = Table("table", "files", "size", box=box.SIMPLE_HEAD, title="on disk", title_justify="left")
    for size in statistics.sizes(store):
        sizes.add_row(size.table, str(size.files), _human(size.bytes))
    out.print(sizes)
    foreign = statistics.ignored(store)
    if foreign:
        table = Table("table", "file", "why", box=box.SIMPLE_HEAD, title="ignored: not written by corpus")
        for row in foreign:
            table.add_row(*row)
        out.print(table, soft_wrap=True)
    with connect(config, warehouse) as con:
        for title, result in statistics.reports(con, reading_config(config, warehouse).query.timeout).items():
            out.print(f"[bold]{title}[/]")
            query.write(result, Format.table, console=out)


@app.command()
def report(
    config: ConfigOption = DEFAULT_CONFIG,
    warehouse: WarehouseOption = None,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="The HTML file to write (never inside the warehouse).")
    ] = Path("corpus-report.html"),
) -> None:
    """Pictures of the corpus in one self-contained HTML file (no network needed to view it): growth per
    source, languages, rejects by reason and host, the most syndicated stories, who copies whom, fetch
    health per host, runs. Each figure shows the SQL it came from."""
    from flows.analyst import report as reporting
    from flows.warehouse import connect

    store = _warehouse(config, warehouse)
    store.require_existing("corpus report")
    _refuse_output_inside(output, config, warehouse)
    limit = reading_config(config, warehouse).query.timeout
    with connect(config, warehouse) as con:
        page = reporting.build(con, store.uri, limit)
    output.write_text(page, encoding="utf-8")
    size = output.stat().st_size
    out.print(f"report: {output.resolve()} ({_human(size)})", highlight=False)


@app.command()
def compact(
    config: ConfigOption = DEFAULT_CONFIG,
    source: SourceOption = None,
    warehouse: WarehouseOption = None,
) -> None:
    """Merge each partition's small Parquet files into one (atomically); report files and sizes before and
    after. Waits for a commit in progress; refuses while an ingest is running."""
    from flows.dedup.deduplicator import Deduplicator
    from flows.warehouse.compact import compact as compact_warehouse
    from flows.warehouse.store import Warehouse

    cfg = reading_config(config, warehouse)
    store = Warehouse.of_config(cfg, warehouse)
    store.require_writable("corpus compact")
    with Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True) as bar:
        task = bar.add_task("compacting")

        def show(table: str, partition: str) -> None:
            bar.update(task, description=f"compacting {table}/{partition}")

        report = compact_warehouse(store, source, show)
        if os.path.exists(store.dedup_index):  # the merged files' rows, under their new files' names
            bar.update(task, description="dedup index")
            dedup = Deduplicator(store, cfg.dedup, log=lambda line: err.print(line, style="dim"))
            try:
                dedup.refresh(merged=report.replaced)
            finally:
                dedup.close()
    table = Table(
        "table",
        "partitions merged",
        "files before",
        "files after",
        "size before",
        "size after",
        "rows",
        box=box.SIMPLE_HEAD,
    )
    for part in report.tables:
        table.add_row(
            part.table,
            str(part.partitions),
            str(part.files_before),
            str(part.files_after),
            _human(part.bytes_before),
            _human(part.bytes_after),
            f"{part.rows:,}",
        )
    merged = sum(part.partitions for part in report.tables)
    if merged:
        out.print(table)
    note = "; search index updated" if report.search_updated else ""
    out.print(
        f"{merged} partition{'s' if merged != 1 else ''} merged in {report.seconds:.1f} s{note}"
        if merged
        else "nothing to merge: every partition has one file",
        highlight=False,
    )


def _human(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


PortOption = Annotated[
    int, typer.Option("--port", help="Port of the local Prefect server on 127.0.0.1 (0: any free port).")
]


def _stop_on_sigterm() -> None:
    """SIGTERM (a service manager, `kill`) stops a command the way Ctrl-C does, so its clean-up runs."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def _server_home(cfg: Config, warehouse: str | None, command: str) -> Path:
    """Where a local Prefect server keeps its database (a folder per warehouse: server_home), after checking
    that the warehouse can be written (the server's database, and serve's runs, write there)."""
    from flows.prefect_server import server_home
    from flows.warehouse.store import Warehouse

    store = Warehouse.of_config(cfg, warehouse)
    store.require_writable(f"corpus {command}")
    return server_home(store.catalog if store.local else None)


@app.command()
def server(
    config: ConfigOption = DEFAULT_CONFIG, warehouse: WarehouseOption = None, port: PortOption = 4200
) -> None:
    """Run a local Prefect server (API and UI) until stopped; its database is kept per warehouse.
    Point `corpus serve` (and the prefect CLI) at it with PREFECT_API_URL."""
    from flows.prefect_server import local_server

    cfg = reading_config(config, warehouse)  # it only locates the warehouse
    _stop_on_sigterm()
    try:
        with local_server(_server_home(cfg, warehouse, "server"), port) as running:
            out.print(
                f"Prefect server: {running.url} (UI and API; database {running.database})\n"
                f"In another shell:  export PREFECT_API_URL={running.api_url}\n"
                "Ctrl-C to stop.",
                highlight=False,
            )
            while running.process.poll() is None:
                time.sleep(0.5)
            fail(f"the Prefect server stopped with status {running.process.returncode} (log: {running.log})")
    except KeyboardInterrupt:
        err.print("stopping the Prefect server")


@app.command()
def serve(
    config: ConfigOption = DEFAULT_CONFIG, warehouse: WarehouseOption = None, port: PortOption = 4200
) -> None:
    """Run every scheduled source on its schedule (one Prefect deployment each) until stopped.
    Uses the Prefect server at PREFECT_API_URL, or starts a local one for as long as it runs."""
    from flows.prefect_server import local_server, stop

    cfg = load_config(config)
    if not any(s.enabled and cfg.schedule_of(s) for s in cfg.sources):
        fail(
            f'{config}: no enabled source has a schedule: add schedule = "*/30 * * * *" or '
            'interval = "15m" to a source or to [defaults]'
        )
    home = _server_home(cfg, warehouse, "serve")  # checked also when the server is elsewhere
    _stop_on_sigterm()
    try:
        if os.environ.get("PREFECT_API_URL"):
            _serve(cfg, config, warehouse, os.environ["PREFECT_API_URL"])
        else:
            with local_server(home, port) as running:
                out.print(
                    f"started a local Prefect server: {running.url} (log: {running.log})", highlight=False
                )
                os.environ["PREFECT_API_URL"] = running.api_url  # for the flow runs serve starts too
                _serve(
                    cfg,
                    config,
                    warehouse,
                    running.api_url,
                    lambda: stop(running.process),
                    running.process.pid,
                )
    except KeyboardInterrupt:
        pass
    err.print("stopped")


@app.command()
def deploy(
    pool: Annotated[
        str, typer.Option("--pool", help="Prefect work pool (type process; created when missing)")
    ],
    config: ConfigOption = DEFAULT_CONFIG,
    warehouse: WarehouseOption = None,
) -> None:
    """Register every scheduled source as a deployment on the Prefect server at PREFECT_API_URL, run by
    the workers of a process work pool: `prefect worker start --pool NAME` on each machine that has this
    project installed, the config at the same path, and the warehouse (shared folder or object storage)."""
    import httpx

    from flows import serve as serving
    from flows.warehouse.store import Warehouse

    cfg = load_config(config)
    api_url = os.environ.get("PREFECT_API_URL")
    if not api_url:
        fail(
            "corpus deploy registers deployments on a Prefect server that workers also reach: start one "
            "(corpus server) and set PREFECT_API_URL"
        )
    try:
        Warehouse.of_config(cfg, warehouse).require_writable("corpus deploy")  # runs will write there
        done = serving.deploy(cfg, config, pool, warehouse)
    except (OSError, RuntimeError, httpx.HTTPError) as exc:
        fail(f"Prefect server {api_url}: {type(exc).__name__}: {' '.join(str(exc).split())}")
    table = Table("deployment", "runs", "", box=box.SIMPLE_HEAD)
    for entry in done:
        note = "paused: not scheduled in the config" if entry.paused else ""
        table.add_row(entry.name, entry.schedule, note)
    out.print(table)
    out.print(
        f"on work pool {pool!r} of {api_url}; start a worker (in this project's environment, "
        f"PREFECT_API_URL set):\n  prefect worker start --pool {pool}",
        highlight=False,
    )


def _serve(
    cfg: Config,
    config: Path,
    warehouse: str | None,
    api_url: str,
    before_exit: Callable[[], None] | None = None,
    server_pid: int | None = None,
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows import serve as serving

    table = Table("source", "runs", box=box.SIMPLE_HEAD)
    for name, when in serving.describe(cfg):
        table.add_row(name, when)
    out.print(table)
    out.print(f"serving on {api_url}; Ctrl-C to stop", highlight=False)
    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        say = lambda message: out.print(message, markup=False, highlight=False)  # noqa: E731
        serving.serve(cfg, config, warehouse, before_exit, server_pid, say)


@sources_app.command("validate")
def sources_validate(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """Check a config without running anything: every key, source and schedule."""
    cfg = load_config(config)
    table = Table("name", "kind", "location", "schedule", "enabled", box=box.SIMPLE_HEAD)
    for source in cfg.sources:
        fields = cfg.schedule_of(source)
        when = "" if fields is None else fields.schedule or f"every {fields.interval}"
        if fields is not None and fields.timezone:
            when += f" ({fields.timezone})"
        table.add_row(source.name, source.kind, location(source), when, "yes" if source.enabled else "no")
    out.print(table)
    out.print(
        f"{config}: ok, {len(cfg.sources)} source{'s' if len(cfg.sources) != 1 else ''}", highlight=False
    )


class ListingKind(StrEnum):
    feed = "feed"
    sitemap = "sitemap"


@sources_app.command("add")
def sources_add(
    url: Annotated[str, typer.Argument(help="The site (its home page), or a feed or sitemap URL.")],
    config: ConfigOption = DEFAULT_CONFIG,
    name: Annotated[str | None, typer.Option("--name", help="Source name (default: from the host).")] = None,
    schedule: Annotated[str | None, typer.Option("--schedule", help='Cron, e.g. "*/30 * * * *".')] = None,
    interval: Annotated[str | None, typer.Option("--interval", help="Or an interval, e.g. 15m.")] = None,
    kind: Annotated[
        ListingKind | None, typer.Option("--kind", help="Only consider feeds or only sitemaps.")
    ] = None,
    allow_private: Annotated[
        bool, typer.Option("--allow-private", help="Allow a host on a private or loopback address.")
    ] = False,
) -> None:
    """Find every feed and sitemap of the site (the page's feed links, robots.txt, the usual paths) and add
    one source reading them all to the config."""
    from flows.config_edit import append_source, source_name_for
    from flows.errors import SourceError
    from flows.fetch.aio import run_async
    from flows.fetch.safety import url_problem
    from flows.sources.site_discovery import find_listings

    cfg = load_config(config)
    problem = url_problem(url)
    if problem is not None:
        fail(f"{url[:300]!r}: {problem}")
    taken = {s.name for s in cfg.sources}
    if name is not None and name in taken:
        fail(f"{config}: a source named {name!r} exists already")
    err.print(f"looking for feeds and sitemaps at {url} ...", highlight=False)
    try:
        found = run_async(find_listings(url, allow_private=allow_private))
    except SourceError as exc:
        if exc.reason == "blocked_address":
            fail(f"{url}: the host has a private or loopback address; add --allow-private to allow it")
        raise
    chosen = found.listings(kind.value if kind else None)
    if not chosen:
        tried = "; ".join(found.problems) or f"nothing advertised, {found.tried} places tried"
        fail(f"no working {kind.value if kind else 'feed or sitemap'} found at {url} ({tried})")
    urls = [c.url for c in chosen]
    source = {
        "name": name or source_name_for(url, taken),
        "kind": chosen[0].kind,
        "url": urls[0] if len(urls) == 1 else urls,
        "schedule": schedule,
        "interval": interval,
        "allow_private": True if allow_private else None,
    }
    stamp = datetime.now().astimezone().strftime("%Y-%m-%d")
    listed = sum(c.entries for c in chosen if "index" not in c.note)
    comment = f"added by `corpus sources add {url}` on {stamp}: {len(chosen)} listing(s)"
    append_source(config, source, comment)
    table = Table("kind", "url", "entries", "size", "found by", "note", box=box.SIMPLE_HEAD)
    for candidate in chosen:
        table.add_row(
            candidate.kind,
            candidate.url,
            f"{candidate.entries:,}",
            _size(candidate.size),
            candidate.found_by,
            candidate.note,
        )
    out.print(table)
    others = [c for c in found.found if c not in chosen]
    for other in others:
        out.print(f"  also found, not added (--kind): {other.kind} {other.url}", highlight=False)
    out.print(
        f"added source {source['name']!r} ({source['kind']}, {len(chosen)} listing"
        f"{'s' if len(chosen) != 1 else ''}, {found.tried} URLs tried) to {config}",
        highlight=False,
    )
    if listed > 100 or any("index" in c.note for c in chosen):
        out.print(
            "  the first ingest fetches every page these list, one per `delay` per host: set max_items or "
            "since on the source to start with fewer",
            highlight=False,
        )


def _size(n: int) -> str:
    return f"{n:,} B" if n < 10_000 else f"{n / 1024:,.0f} KiB" if n < 10_000_000 else f"{n / 2**20:,.0f} MiB"


@sources_app.command("list")
def sources_list(config: ConfigOption = DEFAULT_CONFIG) -> None:
    """List the config's sources."""
    cfg = load_config(config)
    table = Table("name", "kind", "location", "enabled")
    for source in cfg.sources:
        where = location(source)
        if not kind(source.kind).FETCHED:  # a local path: shown resolved against the config's folder
            where = cfg.resolve(where)
        table.add_row(source.name, source.kind, where, "yes" if source.enabled else "no")
    out.print(table)


def main() -> None:
    """The `corpus` command. Whatever escapes a command ends as one line on stderr (the exit code its
    kind says: 2 for config and arguments, 1 for failed work); CORPUS_DEBUG=1 shows the traceback."""
    debug = os.environ.get("CORPUS_DEBUG", "") not in {"", "0"}
    _warnings_to_stderr()
    _completion_instruction()
    try:
        command = typer.main.get_command(app)
        _readable_help(command)
        command(prog_name="corpus")
    except CorpusError as exc:
        if debug:
            raise
        _last_words(str(exc), exc.exit_code)
    except KeyboardInterrupt:  # Ctrl-C outside a statement (which stops itself: query.run)
        if debug:
            raise
        _last_words("interrupted (Ctrl-C)", 130)
    except OSError as exc:  # a read-only warehouse, a full disk
        if debug:
            raise
        where = f": {exc.filename}" if exc.filename else ""
        _last_words(f"{exc.strerror or exc}{where} (CORPUS_DEBUG=1 for the traceback)", 1)
    except Exception as exc:
        if debug:
            raise
        detail = " ".join(str(exc).split())
        _last_words(f"{type(exc).__name__}: {detail} (CORPUS_DEBUG=1 for the traceback)", 1)
    finally:
        # Everything still allocated (Prefect's and pydantic's ~200,000 objects) is left out of the
        # collections the interpreter makes while it exits: they took ~0.55 s of a 3.5 s `corpus ingest`.
        # Nothing is lost: the commands close what they write, and objects are still freed as usual.
        gc.freeze()


def _completion_instruction() -> None:
    """Shell completion answers click's spelling of the instruction too: `_CORPUS_COMPLETE=bash_source`
    (click's documentation) as well as Typer's `source_bash`, for bash, zsh and fish."""
    value = os.environ.get("_CORPUS_COMPLETE", "")
    shell, _, instruction = value.partition("_")
    if shell in ("bash", "zsh", "fish") and instruction in ("source", "complete"):
        os.environ["_CORPUS_COMPLETE"] = f"{instruction}_{shell}"


def _readable_help(command: Any) -> None:
    """Help in the words of the tools people know: a flag shows no type, a value its kind in capitals
    (TEXT, PATH, INTEGER, FLOAT) or its choices, where Typer would show Python's `<bool>`,
    `<list[str]>`."""
    for param in command.params:
        if getattr(param, "is_flag", False):
            param.metavar = ""
        elif getattr(param, "param_type_name", "") == "argument":
            param.metavar = param.metavar or str(param.name).upper()
            param.display_type_rich = lambda ctx: None  # its name says it: URL, QUERY
        elif param.metavar is None:
            param.metavar = _kind(param)
    made = command.get_help_option

    def help_option(ctx: Any) -> Any:  # made when help is asked for: a flag too
        option = made(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = help_option
    for sub in getattr(command, "commands", {}).values():
        _readable_help(sub)


_KINDS = MappingProxyType({"str": "TEXT", "int": "INTEGER", "float": "FLOAT", "bool": "BOOLEAN"})


def _kind(param: Any) -> str:
    described = getattr(param, "type_descriptor", None)
    if described is None:  # a click parameter
        return str(param.type.name).upper()
    if described.choices:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in described.choices) + "]"
    if described.is_path:
        return "PATH"
    annotation = described.annotation
    element = get_args(annotation)[0] if described.is_list and get_args(annotation) else annotation
    return _KINDS.get(getattr(element, "__name__", ""), "VALUE")


class _WarningLine(logging.Handler):
    """The product's own warnings (the "corpus" loggers: a file in the warehouse that it did not write...)
    as one `warning:` line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(f"[yellow]warning:[/] {escape(record.getMessage())}", highlight=False, soft_wrap=True)


def _warnings_to_stderr() -> None:
    logger = logging.getLogger("corpus.warehouse")
    if not any(isinstance(h, _WarningLine) for h in logger.handlers):
        logger.addHandler(_WarningLine(logging.WARNING))
        logger.propagate = False


def _last_words(message: str, code: int) -> NoReturn:
    """fail() outside a command (typer.Exit means nothing there)."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    sys.exit(code)
