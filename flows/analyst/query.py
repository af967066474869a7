"""Read-only SQL over the warehouse views, and writing results as a table, CSV, JSON or Parquet.

Shared by `corpus sql` (one query, or the interactive shell in shell.py) and `corpus search`. The
connection is opened read-only, and every statement is checked before it runs: only queries (SELECT,
WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) pass, so neither the catalog nor any file can be
changed from here (a read-only DuckDB connection alone would still allow COPY ... TO a file, or ATTACH).
"""

from __future__ import annotations

import csv
import json
import sys
import threading
import time
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import IO, Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from rich import box
from rich.console import Console
from rich.table import Table

from flows.errors import ConfigError, QueryError, QueryInterrupted

ALLOWED = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})
MAX_CELL = 80  # characters of one cell in a rendered table (the full value is in csv/json/parquet)
# Characters a text column keeps in a narrow terminal: a few letters and an ellipsis still say something.
NARROWEST = 5
NO_LIMIT = 1_000_000  # columns of a console for a pipe or a file: wider than any table


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    parquet = "parquet"


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """The friendly first line: every statement must be a query, an EXPLAIN [ANALYZE] one included (the
    statement EXPLAIN ANALYZE runs is checked too). The connection's own guards (connection.lock_down)
    hold whatever this misses."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryError(one_line(exc)) from None
    if not statements:
        raise QueryError("no SQL statement given")
    words = (
        sql[offset:].split(None, 1)[0].upper() for offset, _ in duckdb.tokenize(sql) if sql[offset:].strip()
    )
    pivot = any(word.startswith("PIVOT") for word in words)
    for statement in statements:
        if pivot and statement.type == duckdb.StatementType.CREATE and not statement.query.strip():
            continue  # the enum type DuckDB creates (in memory) for a PIVOT's columns: no text of its own
        if statement.type not in ALLOWED:
            kind = str(statement.type).rsplit(".", 1)[-1]
            raise QueryError(f"read-only: {kind} statements are not allowed here, only queries (SELECT ...)")
        if statement.type == duckdb.StatementType.EXPLAIN:
            check_read_only(con, explained(statement.query))


def explained(sql: str) -> str:
    """The statement an EXPLAIN statement explains: what follows EXPLAIN, ANALYZE and an option list,
    found by DuckDB's own tokenizer (so comments anywhere are skipped as DuckDB skips them)."""
    tokens = duckdb.tokenize(sql)
    depth, group = 0, None  # group: where a parenthesised option list (or query) began
    for index, (offset, kind) in enumerate(tokens):
        end = tokens[index + 1][0] if index + 1 < len(tokens) else len(sql)
        word = (sql[offset:end].split(None, 1) or [""])[0].upper()
        if kind == duckdb.token_type.operator and word[:1] in "()" and word:
            if word[0] == "(" and (depth or index > 0):
                group = offset if depth == 0 and group is None else group
                depth += 1
                continue
            if word[0] == ")" and depth:
                depth -= 1
                continue
        if depth:
            continue
        if word not in {"EXPLAIN", "ANALYZE", "ANALYSE"}:
            return sql[offset:]
    if group is not None:  # EXPLAIN (SELECT ...): the parentheses held the statement itself
        return sql[group:]
    raise QueryError("read-only: EXPLAIN without a statement")


def run(con: duckdb.DuckDBPyConnection, sql: str, timeout: float | None = None) -> pa.Table:
    """Run a read-only query (the last statement's result when there are several), stopped after `timeout`
    seconds, or at once by Ctrl-C (QueryInterrupted). The statement runs in a thread of its own while this
    one waits: a SIGINT reaches Python here, between two waits, and interrupts DuckDB (con.interrupt);
    DuckDB's own C code would not give Python a chance to see it until the statement ends."""
    check_read_only(con, sql)
    outcome: dict[str, Any] = {}
    stop = threading.Event()  # set when the statement must not start (or go on): Ctrl-C, the time limit
    # set when the statement thread is done; not Thread.is_alive(), which a KeyboardInterrupt during
    # Thread.join() leaves False while the thread still runs (CPython 3.11, bpo-45274's handling)
    done = threading.Event()

    def execute() -> None:
        try:
            statements = con.extract_statements(sql)
            for statement in statements:
                if stop.is_set():
                    raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
                result = con.execute(statement)
            outcome["table"] = result.to_arrow_table() if result.description else pa.table({})
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc
        finally:
            done.set()

    def halt(patience: float) -> None:
        """Stop the statement, also one that had not started when the first interrupt came (a signal that
        arrives while the thread is still starting would otherwise find nothing to interrupt)."""
        stop.set()
        until = time.monotonic() + patience
        while not done.is_set() and time.monotonic() < until:
            con.interrupt()
            done.wait(0.05)

    worker = threading.Thread(target=execute, name="corpus-query", daemon=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    worker.start()
    try:
        while not done.wait(0.05):
            if deadline is not None and time.monotonic() > deadline:
                halt(60.0)
                raise QueryError(f"stopped at the statement time limit of {timeout:g} s (--timeout)")
    except KeyboardInterrupt:
        halt(10.0)
        raise QueryInterrupted("interrupted (Ctrl-C): the statement was stopped") from None
    error = outcome.get("error")
    if isinstance(error, duckdb.Error):
        raise QueryError(one_line(error)) from None
    if error is not None:
        raise error
    table: pa.Table = outcome["table"]
    return table


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):  # sums of integers come back as HUGEINT decimals
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def check_sink(fmt: Format, output: Path | None) -> None:
    """Binary output goes to a file: --output, or stdout redirected (never a terminal)."""
    if fmt is Format.parquet and output is None and sys.stdout.isatty():
        raise ConfigError("--format parquet writes binary: give --output FILE, or redirect stdout to a file")


def write(result: pa.Table, fmt: Format, output: Path | None = None, console: Console | None = None) -> None:
    """Write a result to `output` (or stdout; a table is rendered to `console`)."""
    if fmt is Format.parquet:
        check_sink(fmt, output)
        pq.write_table(result, output if output is not None else sys.stdout.buffer, compression="zstd")
        return
    if fmt is Format.table and output is None:
        render_table(result, console or Console())
        return
    sink: IO[str] = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout  # noqa: SIM115
    try:
        if fmt is Format.table:
            table = _table(result)
            render_table(result, Console(file=sink, width=natural_width(table), color_system=None), table)
        elif fmt is Format.json:
            rows = [{k: plain(v) for k, v in row.items()} for row in result.to_pylist()]
            json.dump(rows, sink, ensure_ascii=False, indent=1, default=str)  # numbers stay numbers
            sink.write("\n")
        else:
            writer = csv.writer(sink, lineterminator="\n")  # not the csv module's default CRLF
            writer.writerow(result.column_names)
            for row in result.to_pylist():
                writer.writerow(
                    [json.dumps(plain(v)) if isinstance(v, list | dict) else plain(v) for v in row.values()]
                )
    finally:
        if output:
            sink.close()


def render_table(result: pa.Table, console: Console, table: Table | None = None) -> None:
    """Rows as a table that fits the console: numbers, times and flags are never cut (their columns keep
    their width, and when they alone are wider than the terminal the lines run on rather than lose a
    digit); texts share the room left, the widest cut first, with an ellipsis, and at MAX_CELL characters
    (the full value is in csv/json/parquet). A console that is not a terminal has room for all."""
    console.print(table if table is not None else _table(result, console.width), crop=False)
    count = result.num_rows
    console.print(f"{count} row{'s' if count != 1 else ''}", style="dim")


def _table(result: pa.Table, width: int | None = None) -> Table:
    rows = [[_cell(v) for v in row.values()] for row in result.to_pylist()]
    natural = [
        max([len(field.name), *(len(row[i]) for row in rows)]) for i, field in enumerate(result.schema)
    ]
    whole = [_whole(field.type) for field in result.schema]
    texts = [min(natural[i], MAX_CELL) for i in range(len(natural)) if not whole[i]]
    if width is not None and texts:
        overhead = natural_width(_build(result, rows, natural, whole, [1] * len(texts))) - len(texts)
        texts = _share(texts, width - overhead)
    return _build(result, rows, natural, whole, texts)


def _build(
    result: pa.Table, rows: list[list[str]], natural: list[int], whole: list[bool], texts: list[int]
) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False)
    shares = iter(texts)
    for index, field in enumerate(result.schema):
        if whole[index]:
            right = _number(field.type)
            table.add_column(
                field.name, no_wrap=True, min_width=natural[index], justify="right" if right else "left"
            )
        else:
            share = next(shares)
            table.add_column(field.name, overflow="ellipsis", no_wrap=True, min_width=share, max_width=share)
    for row in rows:
        table.add_row(*row)
    return table


def _share(widths: list[int], room: int) -> list[int]:
    """Text columns' widths within `room`: each keeps its width while all fit; else the widest is cut first,
    down to NARROWEST characters each."""
    widths = list(widths)
    while sum(widths) > room:
        widest = max(range(len(widths)), key=lambda i: widths[i])
        if widths[widest] <= NARROWEST:
            break
        widths[widest] -= 1
    return widths


def _number(kind: pa.DataType) -> bool:
    return bool(pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind))


def _whole(kind: pa.DataType) -> bool:
    """Values shown whole whatever the width: numbers, moments, flags."""
    return _number(kind) or bool(pa.types.is_temporal(kind) or pa.types.is_boolean(kind))


def natural_width(table: Any) -> int:
    """The width a table (any rich renderable) takes with nothing cut (for a file or a pipe)."""
    from rich.measure import Measurement

    wide = Console(width=NO_LIMIT)
    return max(Measurement.get(wide, wide.options, table).maximum, 1)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = (
        json.dumps(plain(value), ensure_ascii=False) if isinstance(value, list | dict) else str(plain(value))
    )
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
