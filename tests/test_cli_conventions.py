"""The command line behaves like the tools people know: `--version`, shell completion (bash, zsh, fish),
help without Python's types, a run summary that shows every number whole at any width (80 and 200
columns, a pipe, a terminal), `--format json` for scripts, and the summary artifact narrow enough for a
laptop screen."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from importlib.metadata import version
from pathlib import Path

import pytest
import typer
from command import CORPUS, corpus, corpus_at_terminal
from rich.console import Console
from sites import write_site

from flows import cli
from flows.cli import summary_table
from flows.records import COUNTS, RunSummary, SourceStats


def summary(names: list[str], scale: int = 1) -> RunSummary:
    """A summary whose every figure is distinct, so each can be looked for in the rendering."""
    sources = {}
    for index, name in enumerate(names):
        figures = {count: scale * (1000 * index + 10 * position + 7) for position, count in enumerate(COUNTS)}
        failed = index == 1
        sources[name] = SourceStats(
            **figures,
            seconds=12.5 + index,
            status="failed" if failed else "completed",
            error="feed http://x.test/feed.xml: connect_error" if failed else None,
            reasons={"http_404": figures["rejected"]},
        )
    return RunSummary(run_id="20261207T000000Z-abcdef", warehouse="/w", catalog="/w/c.duckdb", seconds=99.5,
                      sources=sources)  # fmt: skip


def rendered(run: RunSummary, width: int) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(summary_table(run, width))
    return console.file.getvalue()  # type: ignore[attr-defined, no-any-return]


def every_figure(run: RunSummary) -> list[str]:
    figures = [str(getattr(stats, c)) for stats in run.sources.values() for c in COUNTS]
    figures += [str(getattr(run.total(), c)) for c in COUNTS]
    return figures + [f"{stats.seconds:.1f}" for stats in run.sources.values()] + [f"{run.seconds:.1f}"]


SHAPES = {
    "two sources": (["news", "blogs"], 1),
    "big numbers": (["news-wire", "opinion", "archive-2024"], 10_000),
    "many long names": ([f"a-rather-long-source-name-{i:02d}" for i in range(14)], 1000),
}


@pytest.mark.unit
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("width", [80, 200])
def test_the_summary_shows_every_number_whole_at_80_and_200_columns(shape: str, width: int) -> None:
    names, scale = SHAPES[shape]
    run = summary(names, scale)
    text = rendered(run, width)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width, text
    tokens = set(re.split(r"[\s\u00a0]+", text))
    missing = [figure for figure in every_figure(run) if figure not in tokens]
    assert not missing, (missing, text)
    for name in names:
        assert name in text
    if shape == "two sources":  # the usual run: a row per source when there is room, else a column each
        first = text.splitlines()[0].split()
        assert first[:3] == (["source", "status", "seen"] if width == 200 else ["news", "blogs", "total"])


@pytest.mark.unit
def test_the_artifact_puts_status_and_totals_first_in_a_narrow_table() -> None:
    run = summary(["news", "blogs", "wire"])
    text = run.markdown()
    lines = text.splitlines()
    assert lines[0] == "### Run `20261207T000000Z-abcdef`: partly failed"
    total = run.total()
    assert lines[2].startswith(f"**{total.written} written** · {total.seen} seen")
    table = [line for line in lines if line.startswith("|")]
    assert all(line.count("|") - 1 <= 7 for line in table)  # 7 columns at most
    assert "  - error: feed http://x.test/feed.xml: connect\\_error" not in text  # not escaped twice
    assert "- **blogs**" in text and "error: feed http://x.test/feed.xml: connect_error" in text
    assert f"rejected: http_404 {run.sources['news'].rejected}" in text
    assert run.state_message().startswith("1 of 3 sources failed: blogs: feed http://x.test/feed.xml")
    assert "(the other sources' work is committed: " in run.state_message()


@pytest.mark.unit
def test_a_source_line_names_rejects_by_reason_and_warns_when_most_pages_were_rejected() -> None:
    stats = SourceStats(seen=40, extracted=10, rejected=30, written=9, duplicates=1, seconds=3.25)
    stats.reasons = {"no_text": 20, "http_404": 4, "too_short": 3, "robots": 1, "not_html": 1, "bad_url": 1}
    line = stats.line("news")
    assert line.startswith("source news: completed in 3.2 s: 40 seen, 9 written, 1 duplicates, 30 rejected")
    assert "(no_text 20, http_404 4, too_short 3, bad_url 1, not_html 1, 1 more reasons)" in line
    assert stats.many_rejected and line.endswith("; 75% of its pages rejected")
    calm = SourceStats(seen=40, rejected=3, written=37)
    assert not calm.many_rejected and "rejected" in calm.line("news") and "%" not in calm.line("news")


@pytest.mark.flow
def test_version_and_completion() -> None:
    done = corpus("--version")
    assert done.returncode == 0 and done.stdout.startswith(f"corpus {version('corpus-pipeline')} (")
    assert f"trafilatura {version('trafilatura')}" in done.stdout
    for shell, spelling in (("bash", "bash_source"), ("zsh", "source_zsh"), ("fish", "fish_source")):
        script = subprocess.run(  # click's spelling (its documentation) and Typer's both work
            [str(CORPUS)], env={"_CORPUS_COMPLETE": spelling, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert script.returncode == 0 and f"_CORPUS_COMPLETE=complete_{shell}" in script.stdout, script
    if shutil.which("bash"):  # the bash script completes a command in a real bash
        completed = subprocess.run(
            ["bash", "-c", f'eval "$(_CORPUS_COMPLETE=bash_source {CORPUS})"; '
             f"COMP_WORDS=(corpus sq); COMP_CWORD=1; _corpus_completion {CORPUS}; "
             'echo "${COMPREPLY[@]}"'],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert completed.stdout.split() == ["sql"], completed


@pytest.mark.unit
def test_help_shows_kinds_not_python_types() -> None:
    """Every command's help, as main() builds the command (in this process: the same code path)."""
    command = typer.main.get_command(cli.app)
    cli._readable_help(command)

    def shown(*args: str) -> str:
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured), contextlib.suppress(SystemExit):
            command.main(args=[*args, "--help"], prog_name="corpus", standalone_mode=False)
        return captured.getvalue()

    names = [""] + [name for name in command.commands if name != "sources"]
    names += ["sources", "sources add", "sources list", "sources validate"]
    for name in names:
        text = shown(*name.split())
        assert "Usage: corpus" in text, name
        assert not re.search(r"<(bool|str|int|float|path|list\[)", text), (name, text)
    assert "[table|json|markdown]" in shown("ingest")
    assert "--version" in shown() and "--install-completion" in shown()


@pytest.mark.flow
def test_ingest_summary_as_json_and_at_a_terminal_of_80_columns(tmp_path: Path, make_config) -> None:
    write_site(tmp_path / "site", 3)
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\nurl_prefix = "https://"\n'
        '[[sources]]\nname = "missing"\nkind = "warc"\npath = "nothing-here/*.warc.gz"\n'
    )
    done = corpus("ingest", "-c", config, "--format", "json")
    assert done.returncode == 1  # a source failed
    parsed = json.loads(done.stdout)  # nothing but the JSON on stdout
    assert parsed["status"] == "partly failed"
    assert parsed["sources"]["site"]["written"] == 3 and parsed["sources"]["missing"]["status"] == "failed"
    assert "no .warc" in parsed["sources"]["missing"]["error"]
    code, shown, error = corpus_at_terminal("ingest", "-c", config, "--full", columns=80)
    assert code == 1 and "missing" in error
    assert max(len(line) for line in shown.splitlines()) <= 80, shown
    assert "…" not in shown and "partly failed" in shown
    rows = {line.split()[0]: line.split()[1:] for line in shown.splitlines() if line.strip()}
    assert rows["seen"] == ["3", "0", "3"] and rows["duplicates"] == ["3", "0", "3"], shown


@pytest.mark.flow
def test_sql_tables_keep_numbers_and_times_whole_at_a_terminal_and_everything_when_piped(
    sample_warehouse,
) -> None:
    query = "select title, source, published_at, word_count from articles order by title"
    config = sample_warehouse.config
    rows = json.loads(corpus("sql", "-c", config, query, "--format", "json").stdout)
    piped = corpus("sql", "-c", config, query).stdout  # a pipe: every value whole, the titles too
    assert "…" not in piped and all(row["title"] in piped for row in rows)
    for columns in (60, 40):
        code, shown, _ = corpus_at_terminal("sql", "-c", config, query, columns=columns)
        assert code == 0
        lines = [line for line in shown.splitlines() if re.search(r"\d{4}-\d\d-\d\dT", line)]
        assert len(lines) == len(rows), shown
        for line, row in zip(lines, rows, strict=True):  # times and counts whole; titles shortened
            assert row["published_at"] in line and line.rstrip().endswith(f" {row['word_count']}"), line
        assert "…" in shown
