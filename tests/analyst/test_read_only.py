"""The analysts' connection cannot write, change a setting or load code, however a statement is wrapped:
hostile statements through `flows.warehouse.connect()` (the Python API), `corpus sql` and its shell leave
every file under the warehouse and outside it byte-identical, and each is refused with one line."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest
from command import CORPUS, corpus, corpus_at_terminal
from conftest import Sample

from flows.analyst import query
from flows.errors import QueryError
from flows.warehouse import connect

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample(sample_warehouse: Sample) -> Path:
    """The session's sample warehouse, and a file beside it that queries must not read."""
    outside = sample_warehouse.folder / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "notes.csv").write_text("a,b\n1,2\n")
    return sample_warehouse.config


def targets(folder: Path) -> dict[str, str]:
    """Paths a hostile statement aims at: a stored file, a new file in the warehouse, a file outside."""
    stored = next((folder / "wh" / "documents").rglob("*.parquet"))
    return {
        "STORED": str(stored),
        "NEW": str(folder / "wh" / "documents" / "junk.parquet"),
        "OUT": str(folder / "outside" / "notes.csv"),
        "DB": str(folder / "outside" / "other.duckdb"),
        "CATALOG": str(folder / "wh" / "corpus.duckdb"),
    }


COPY_FORMS = [
    "COPY (SELECT 1 AS x) TO '{STORED}' (FORMAT parquet)",
    "COPY (SELECT 1 AS x) TO '{NEW}' (FORMAT parquet)",
    "COPY (SELECT 1 AS x) TO '{OUT}'",
    "COPY (SELECT 1 AS x) TO '{STORED}' (FORMAT parquet, USE_TMP_FILE false)",
    "COPY documents TO '{NEW}'",
    "COPY (FROM documents) TO '{OUT}' (FORMAT csv, OVERWRITE true)",
    "EXPORT DATABASE '{OUT}.dir'",
    "ATTACH '{DB}' AS other",
    "ATTACH '{CATALOG}' AS writable",
    "INSTALL httpfs",
    "LOAD httpfs",
    "FORCE INSTALL json",
    "SET threads = 1",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "SET GLOBAL allowed_directories = ['/']",
    "PRAGMA enable_profiling",
    "PRAGMA threads = 1",
    "CALL pragma_version()",
    "CREATE TABLE t AS SELECT 1",
    "CREATE VIEW v AS SELECT 1",
    "DROP VIEW documents",
    "CHECKPOINT",
    "VACUUM",
    "CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')",
]
WRAPPERS = [
    "{}",
    "EXPLAIN ANALYZE {}",
    "EXPLAIN {}",
    "/* comment */ EXPLAIN /* more */ ANALYZE {}",
    "explain analyze (format json) {}",
    "SELECT 1; {}",
    "-- a line comment\n{}",
]
# reads of files outside the warehouse, wrapped in queries, table functions, CTEs and subqueries
READS = [
    "SELECT * FROM read_csv('{OUT}')",
    "SELECT * FROM '{OUT}'",
    "WITH t AS (SELECT * FROM read_text('/etc/passwd')) SELECT * FROM t",
    "SELECT (SELECT count(*) FROM read_blob('/etc/hostname'))",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM sniff_csv('{OUT}')",
    "SELECT * FROM read_json_auto('/etc/os-release')",
    "SELECT * FROM parquet_metadata('{DB}')",
    "FROM duckdb_settings() WHERE name = 'x' UNION ALL SELECT * FROM read_csv('{OUT}')",
    "SELECT getenv('HOME')",
]


def tree(*folders: Path) -> dict[str, str]:
    """Every file's hash; not the verdicts on the warehouse's files (.checked-files.json), a cache that
    reading fills, like the catalog."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".checked-files.json"
    }


def hostile(folder: Path) -> list[str]:
    paths = targets(folder)
    statements = [wrapper.format(form) for form in COPY_FORMS for wrapper in WRAPPERS]
    return [s.format(**paths) for s in statements] + [r.format(**paths) for r in READS]


@pytest.mark.flow
def test_hostile_statements_through_the_python_api_change_nothing(sample: Path) -> None:
    folder = sample.parent
    statements = hostile(folder)
    assert len(statements) >= 60
    before = tree(folder)
    with connect(sample) as con:
        for statement in statements:
            try:
                query.run(con, statement)
            except QueryError as exc:
                assert "\n" not in str(exc), statement
            else:  # only queries may run at all, and they cannot read outside the warehouse
                pytest.fail(f"ran: {statement}")
        # DuckDB's own guards, with the parser check out of the way: nothing outside the tables' folders
        # can be opened, no setting changed, no code loaded, nothing created in the catalog (writes into
        # the tables' folders themselves are refused by the parser check alone: DuckDB cannot allow a
        # folder for reading only)
        engine = [
            wrapper.format(form).format(**targets(folder))
            for form in COPY_FORMS + READS
            if not any(key in form for key in ("{STORED}", "{NEW}", "{CATALOG}"))
            and form.split()[0] not in {"PRAGMA", "CALL", "CHECKPOINT", "VACUUM"}
            for wrapper in ("{}", "EXPLAIN ANALYZE {}")
        ]
        assert len(engine) >= 40
        for statement in engine:
            with pytest.raises(duckdb.Error):
                con.execute(statement)
        assert con.execute("SELECT count(*) FROM documents").fetchone()[0] > 0  # type: ignore[index]
    assert tree(folder) == before


@pytest.mark.flow
def test_allow_read_lets_a_named_file_be_joined(sample: Path) -> None:
    notes = sample.parent / "outside" / "notes.csv"
    with connect(sample, allow_read=[str(notes)]) as con:
        assert query.run(con, f"SELECT a FROM read_csv('{notes}')").to_pylist() == [{"a": 1}]
        with pytest.raises(QueryError):
            query.run(con, "SELECT * FROM read_text('/etc/hostname')")
        with pytest.raises(QueryError):  # readable is not writable through COPY
            query.run(con, f"COPY (SELECT 2 AS a) TO '{notes}'")
    assert notes.read_text() == "a,b\n1,2\n"


# Through the CLI, each COPY form bare and under EXPLAIN ANALYZE, and some reads: one `corpus sql` each
# (the shell below takes every statement in one process).
STATEMENTS = [wrapper.format(form) for form in COPY_FORMS for wrapper in WRAPPERS] + READS
CLI_CASES = STATEMENTS[:: len(WRAPPERS)] + STATEMENTS[1 :: len(WRAPPERS)]


@pytest.mark.flow
@pytest.mark.parametrize("template", CLI_CASES, ids=range(len(CLI_CASES)))
def test_a_hostile_statement_through_the_cli_changes_nothing(sample: Path, template: str) -> None:
    folder = sample.parent
    statement = template.format(**targets(folder))
    before = tree(folder)
    done = corpus("sql", "--config", str(sample), statement)
    assert done.returncode != 0, statement
    assert len(done.stderr.strip().splitlines()) == 1, (statement, done.stderr)
    assert tree(folder) == before


@pytest.mark.flow
def test_hostile_statements_through_the_shell_change_nothing(sample: Path) -> None:
    folder = sample.parent
    statements = hostile(folder)
    before = tree(folder)
    script = "".join(s.replace("\n", " ") + ";\n" for s in statements)
    shell = corpus("sql", "--config", str(sample), stdin=script + "SELECT 42 AS answer;\n")
    assert shell.returncode == 1  # some statement failed
    assert "42" in shell.stdout  # the shell went on after each refusal
    assert tree(folder) == before


@pytest.mark.flow
def test_messages_keep_their_brackets(sample: Path, tmp_path: Path) -> None:
    """Errors are printed as text, never as rich markup: brackets in a query or a config survive, and a
    `[/]` does not crash the printer."""
    done = corpus("sql", "--config", str(sample), "select * from nope_[/]_x")
    assert done.returncode == 1 and "nope_[/]_x" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    config = tmp_path / "[oops].toml"
    config.write_text('[[sources]]\nname = "[MySource]"\nkind = "files"\npath = "x/*.html"\n')
    done = corpus("sql", "--config", str(config), "select 1")
    assert done.returncode == 2, done.stderr
    assert "'[MySource]'" in done.stderr and "'^[a-z0-9-]+$'" in done.stderr and "[oops].toml" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@pytest.mark.flow
def test_a_copied_warehouse_reads_its_own_files(sample: Path) -> None:
    """The catalog names the files of the place it was built for: a copy (or a moved warehouse) rebuilds
    its views on connecting, so it never reads the original's data."""
    original = sample.parent / "wh"
    copy = sample.parent / "w2"
    shutil.copytree(original, copy, symlinks=True)
    try:
        shutil.rmtree(copy / "documents")
        done = corpus("sql", "--config", str(sample), "-w", str(copy), "select count(*) as n from documents")
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[2] == "0", done.stdout
        with connect(sample, warehouse=str(copy)) as con:
            assert con.execute("select count(*) from documents").fetchone() == (0,)
        with connect(sample) as con:  # the original is untouched and still reads its own
            count = con.execute("select count(*) from documents").fetchone()
            assert count is not None and count[0] > 0
    finally:
        shutil.rmtree(copy)


@pytest.mark.e2e
def test_every_command_on_a_copied_warehouse_works_on_the_copy(sample: Path) -> None:
    """A copy of a warehouse (its documents then deleted) is a warehouse of its own for every command:
    reads see the copy's (empty) documents, search its own index, writes land in the copy, a server keeps
    its database apart (not in the copy); the original stays byte-identical throughout."""
    original, copy = sample.parent / "wh", sample.parent / "copied"
    corpus("search", "--config", str(sample), "war")  # the index exists and is copied with the rest
    shutil.copytree(original, copy, symlinks=True)
    try:
        shutil.rmtree(copy / "documents")
        before = tree(original)

        def run(*args: str) -> subprocess.CompletedProcess:
            done = corpus(*args, "--config", str(sample), "--warehouse", str(copy))
            assert done.returncode == 0, (args, done.stderr)
            assert "Traceback" not in done.stderr and "error" not in done.stderr, (args, done.stderr)
            return done

        count = "select count(*) as n from documents"
        assert run("sql", "--format", "csv", count).stdout.split() == ["n", "0"]
        stats = run("stats").stdout
        assert re.search(r"documents\s+0\s+0 B", stats) and re.search(r"sample\s+0\s+0\s", stats), stats
        assert run("search", "war").stdout.strip().endswith("0 results")
        assert str(copy / "corpus.duckdb") in run("views").stdout
        run("compact")
        run("reextract")
        run("ingest", "--full")  # re-reads the pages into the copy
        copied = run("sql", "--format", "csv", count).stdout.split()
        with connect(sample) as con:
            assert copied == ["n", str(con.execute("select count(*) from documents").fetchone()[0])]
        assert not run("search", "myanmar").stdout.strip().endswith(" 0 results")  # its index caught up
        server = subprocess.Popen(
            [str(REPO / ".venv/bin/corpus"), "server", "-c", str(sample), "-w", str(copy), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            assert "database sqlite+aiosqlite:///" in first, first
            database = first.split("database sqlite+aiosqlite:///", 1)[1].rstrip(")\n")
            assert Path(database).name == "prefect.db" and "corpus-servers" in database, first
            assert not Path(database).resolve().is_relative_to(copy.resolve()), first  # never in the data
        finally:
            server.terminate()
            assert server.wait(30) == 0
        assert tree(original) == before
    finally:
        shutil.rmtree(copy)


def read_only(folder: Path, *args: str) -> subprocess.CompletedProcess:
    """The corpus command with `folder` mounted read-only for it (a private mount namespace: read-only
    even for root, as a read-only volume is)."""
    script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && shift && exec "$@"'
    command = ["unshare", "-m", "sh", "-c", script, str(folder), "-", str(CORPUS)]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)


def _can_mount_read_only(folder: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0"', str(folder)],
        capture_output=True,
    )
    return probe.returncode == 0


READING = [["sql", "select count(*) as n from documents"], ["stats"], ["search", "war"]]
WRITING = [["ingest"], ["reextract"], ["views"], ["compact"], ["server"], ["serve"]]


@pytest.mark.e2e
def test_a_read_only_warehouse_serves_reads_and_refuses_writes_in_one_line(sample: Path) -> None:
    folder = sample.parent / "wh"
    if not _can_mount_read_only(folder):
        pytest.skip("no unshare/mount here to make a folder read-only")
    corpus("search", "--config", str(sample), "war")  # the search index exists, as after any ingest
    (folder / "corpus.duckdb").unlink()  # and the catalog must be built elsewhere
    before = tree(folder)
    for command in READING:
        done = read_only(folder, *command, "--config", str(sample))
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout.strip(), command
    for command in WRITING:
        done = read_only(folder, *command, "--config", str(sample))
        assert done.returncode == 1, (command, done.stderr)
        assert done.stderr.strip().splitlines() == [
            f"error: warehouse {folder} cannot be written: corpus {command[0]} needs to write there "
            "(sql, stats and search only read)"
        ], done.stderr
    assert tree(folder) == before


@pytest.mark.flow
def test_output_formats_and_argument_errors(sample: Path, tmp_path: Path) -> None:
    """JSON keeps numbers as numbers (sums come back from DuckDB as decimals), CSV ends lines with LF,
    --format parquet to a terminal is a bad argument (exit 2), and a config value of the wrong type
    ("yes" for a boolean) is refused with one line naming the key."""
    done = corpus(
        "sql", "--config", str(sample), "--format", "json",
        "select sum(word_count) as words, avg(word_count) as mean, count(*) as n from documents",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    assert isinstance(row["words"], int) and isinstance(row["mean"], float) and isinstance(row["n"], int)
    two_rows = "select 1 as a union all select 2 order by a"
    done = corpus("sql", "--config", str(sample), "--format", "csv", two_rows)
    assert done.returncode == 0 and "\r" not in done.stdout and done.stdout.splitlines() == ["a", "1", "2"]
    code, _, error = corpus_at_terminal("sql", "--config", str(sample), "--format", "parquet", "select 1")
    assert code == 2 and "--output" in error
    assert len(error.strip().splitlines()) == 1
    config = tmp_path / "yes.toml"
    config.write_text('[[sources]]\nname = "a"\nkind = "files"\npath = "x/*.html"\nenabled = "yes"\n')
    done = corpus("sql", "--config", str(config), "select 1")
    assert done.returncode == 2 and "'enabled'" in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.flow
@pytest.mark.parametrize(
    "command",
    [
        ["ingest"],
        ["reextract"],
        ["views"],
        ["sql", "select 1"],
        ["search", "war"],
        ["stats"],
        ["compact"],
        ["server"],
        ["serve"],
    ],
)
def test_every_command_refuses_a_warehouse_that_is_a_file(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "afile").write_text("not a folder")
    config = tmp_path / "sources.toml"
    config.write_text(
        '[warehouse]\npath = "afile"\n'
        f'[[sources]]\nname = "a"\nkind = "files"\npath = "{REPO}/seeds/sample/**/*.html"\n'
        'url_prefix = "https://"\ninterval = "1h"\n'
    )
    done = corpus(*command, "--config", str(config))
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: warehouse {tmp_path / 'afile'} is a file, not a folder ([warehouse] path, --warehouse)"
    ]
    assert (tmp_path / "afile").read_text() == "not a folder"


@pytest.mark.flow
def test_the_python_connection_is_sealed_like_the_cli(sample: Path) -> None:
    """Seen: connect() accepted COPY ... TO a new file in documents/ (which the views then read) and EXPORT
    DATABASE. DuckDB itself now refuses them: the connection may open the warehouse's own files and
    nothing else, and DuckDB writes through a temporary file beside the target (so overwriting one of those
    files, by SQL or through a relation, is refused too)."""
    folder = sample.parent
    stored = next((folder / "wh" / "documents").rglob("part-*.parquet"))
    before = tree(folder)
    with connect(sample) as con:
        for statement in (
            f"COPY (SELECT 1 AS x) TO '{folder}/wh/documents/source=sample/month=2025-07/part-zz.parquet'",
            f"COPY (SELECT * FROM documents) TO '{stored}'",
            f"EXPORT DATABASE '{folder}/wh/documents/export'",
            "CREATE TABLE t AS SELECT 1",
        ):
            with pytest.raises((QueryError, duckdb.Error)):
                con.execute(statement)
            with pytest.raises((QueryError, duckdb.Error)):
                con.sql(statement)
        for write in ("write_parquet", "to_parquet", "write_csv", "to_csv"):
            with pytest.raises((QueryError, duckdb.Error)):
                getattr(con.sql("select * from documents").limit(1), write)(str(stored))
        assert con.sql("select count(*) from articles").fetchone()[0] > 0  # reading goes on as before
        assert con.execute("select count(*) from documents").fetchall()[0][0] > 0
    assert tree(folder) == before


@pytest.mark.flow
def test_output_into_the_warehouse_and_a_mistyped_warehouse_are_refused(sample: Path, tmp_path: Path) -> None:
    """Seen: --output wrote a Parquet file into documents/ (the views read its forged row), and
    `corpus sql -w no/such/folder` answered 0 rows and left a new folder with a catalog in it."""
    folder = sample.parent
    inside = folder / "wh" / "documents" / "source=sample" / "month=2025-07" / "part-zz.parquet"
    done = corpus("sql", "-c", str(sample), "select 1 as x", "--format", "parquet", "--output", str(inside))
    assert done.returncode == 2 and "inside the warehouse" in done.stderr, done.stderr
    assert not inside.exists()
    missing = tmp_path / "no" / "such" / "folder"
    for command in (["sql", "select count(*) from articles"], ["stats"], ["search", "war"]):
        done = corpus(*command, "-c", str(sample), "-w", str(missing))
        assert done.returncode == 2 and "does not exist" in done.stderr, (command, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not (tmp_path / "no").exists()
