"""`corpus sql` with no query: an interactive SQL shell over the views.

Statements end with `;` and may span lines; dot commands (`.views`, `.schema VIEW`, `.format csv`,
`.help`, `.quit`) take one line. At a terminal it keeps a history (readline, ~/.local/state/corpus/history
or $CORPUS_HISTORY) and completes view and column names with Tab. Piped input runs the same way without
prompts, so scripts can drive it; the exit status is 1 when any statement failed.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
from rich.console import Console
from rich.markup import escape

from flows.analyst import query
from flows.analyst.query import Format
from flows.errors import QueryError

_KEYWORD_LINES = (
    "select from where group by order limit having join left inner on using with as and or not in is",
    "null like ilike between distinct count sum avg min max case when then else end union all describe",
    "summarize date_trunc list string_agg regexp_matches contains lower upper desc asc",
)
KEYWORDS = tuple(word for line in _KEYWORD_LINES for word in line.split())
HELP = """\
SQL statements end with ';' and may span several lines. Read-only: queries only.
  .views             the views, with what each holds
  .schema VIEW       the columns of VIEW and their types
  .format FORMAT     table (default), csv or json
  .help              this text
  .quit / .exit      leave (Ctrl-D too)"""


class Shell:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        console: Console,
        interactive: bool,
        errors: Console | None = None,
        timeout: float | None = None,
    ) -> None:
        self.con = con
        self.console = console
        self.errors = errors or console  # where error lines go: stderr, as in psql and the duckdb shell
        self.timeout = timeout
        self.interactive = interactive
        self.format = Format.table
        self.failed = False

    # ---- input

    def lines(self) -> Iterator[str]:
        if not self.interactive:
            yield from (line.rstrip("\n") for line in sys.stdin)
            return
        buffer_empty = True
        while True:
            try:
                line = input("corpus> " if buffer_empty else "   ...> ")
            except EOFError:
                self.console.print()
                return
            except KeyboardInterrupt:  # Ctrl-C drops the statement being typed, as in psql
                self.console.print()
                yield "\0"
                buffer_empty = True
                continue
            stripped = line.strip()
            buffer_empty = (buffer_empty and (not stripped or stripped.startswith("."))) or stripped.endswith(
                ";"
            )
            yield line

    def run(self) -> int:
        if self.interactive:
            self.console.print(
                "corpus SQL shell: statements end with ';', .help for commands, Ctrl-D to leave."
            )
        buffer: list[str] = []
        for line in self.lines():
            if line == "\0":
                buffer = []
                continue
            stripped = line.strip()
            if not buffer and stripped.startswith("."):
                if not self.command(stripped):
                    break
                continue
            if stripped or buffer:
                buffer.append(line)
            if stripped.endswith(";"):
                self.execute("\n".join(buffer))
                buffer = []
        if "".join(buffer).strip():
            self.execute("\n".join(buffer))
        return 1 if self.failed else 0

    # ---- doing

    def execute(self, sql: str) -> None:
        try:
            result = query.run(self.con, sql, self.timeout)
        except QueryError as exc:  # an interrupted statement too: the shell goes on
            self.failed = True
            self.errors.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            return
        if result.num_columns:
            query.write(result, self.format, console=self.console)

    def command(self, line: str) -> bool:
        """Run a dot command; False to leave."""
        name, _, argument = line.partition(" ")
        argument = argument.strip().rstrip(";")
        if name in (".quit", ".exit", ".q"):
            return False
        if name == ".help":
            self.console.print(HELP, highlight=False)
        elif name in (".views", ".tables"):
            self.execute(
                "select view_name as view, comment from duckdb_views() "
                "where not internal and schema_name = 'main' order by 1;"
            )
        elif name == ".schema" and argument:
            if argument not in view_names(self.con):
                self.failed = True
                self.console.print(
                    f"[bold red]error:[/] no view named {argument!r} (see .views)", highlight=False
                )
            else:
                self.execute(
                    f'select column_name as column, column_type as type from (describe "{argument}");'
                )
        elif name == ".format" and argument in Format.__members__ and argument != "parquet":
            self.format = Format(argument)
        else:
            self.failed = True
            self.errors.print(
                f"[bold red]error:[/] unknown or incomplete command {escape(line)!r} (see .help)"
            )
        return True


def view_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("select view_name from duckdb_views() where not internal and schema_name = 'main'")
    return sorted(r[0] for r in rows.fetchall())


def completion_words(con: duckdb.DuckDBPyConnection) -> list[str]:
    names = view_names(con)
    columns = con.execute(
        "select distinct column_name from duckdb_columns() where not internal and table_name in "
        "(select unnest(?::varchar[]))",
        [names],
    ).fetchall()
    return sorted({*names, *(c[0] for c in columns), *KEYWORDS, ".views", ".schema", ".format", ".help"})


def history_file() -> Path:
    named = os.environ.get("CORPUS_HISTORY")
    if named:
        return Path(named)
    state = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state"))
    return state / "corpus" / "history"


@contextlib.contextmanager
def line_editing(words: list[str]) -> Iterator[None]:
    """History and Tab completion for a terminal session."""
    try:
        import readline
    except ImportError:  # not every Python has it: the shell works without
        yield
        return
    path = history_file()
    with contextlib.suppress(OSError):
        readline.read_history_file(path)
    readline.set_history_length(2000)

    def complete(text: str, state: int) -> str | None:
        lowered = text.lower()
        matches = [w for w in words if w.lower().startswith(lowered)]
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" \t\n,;()=<>'\"")
    readline.parse_and_bind("tab: complete")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            readline.write_history_file(path)


def run_shell(
    con: duckdb.DuckDBPyConnection,
    console: Console,
    errors: Console | None = None,
    timeout: float | None = None,
) -> int:
    interactive = sys.stdin.isatty()
    shell = Shell(con, console, interactive, errors, timeout)
    if not interactive:
        return shell.run()
    with line_editing(completion_words(con)):
        return shell.run()
