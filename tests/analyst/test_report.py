"""`corpus report`: one HTML file that needs nothing from elsewhere, whose every drawn number is the SQL's
(the SQL embedded beside each figure is run again here), that says so when the warehouse is empty, and
that a real browser lays out with every chart drawn and no console error."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from command import corpus

from flows.analyst.query import plain
from flows.warehouse import connect

FIGURE = re.compile(r'<figure data-chart="(?P<name>\w+)"(?P<body>.*?)</figure>', re.S)
DATA = re.compile(r'<script type="application/json" class="chart-data">(?P<json>.*?)</script>', re.S)
MARK = re.compile(r'class="mark"[^>]*?data-row="(?P<row>\d+)" data-value="(?P<value>[^"]+)"')
EXPECTED = {
    "documents_per_day", "articles_per_day", "languages", "rejects_over_time", "rejects_by_host",
    "syndicated", "who_copies_whom", "fetch_health", "runs",
}  # fmt: skip


def figures(html: str) -> dict[str, dict[str, Any]]:
    found = {}
    for match in FIGURE.finditer(html):
        data = DATA.search(match["body"])
        assert data is not None, f"figure {match['name']} has no data"
        found[match["name"]] = {**json.loads(data["json"]), "body": match["body"]}
    return found


def normal(rows: list[list[Any]]) -> list[list[Any]]:
    return json.loads(json.dumps([[plain(v) for v in row] for row in rows], default=str))


def make_report(config: Path, output: Path) -> str:
    done = corpus("report", "-c", config, "-o", output)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"report: {output.resolve()} (")
    return output.read_text(encoding="utf-8")


@pytest.mark.flow
def test_every_drawn_number_is_what_its_sql_gives(sample_warehouse, tmp_path: Path) -> None:
    html = make_report(sample_warehouse.config, tmp_path / "report.html")
    found = figures(html)
    assert set(found) == EXPECTED
    with connect(sample_warehouse.config) as con:
        for name, figure in found.items():
            again = con.execute(figure["sql"]).fetchall()
            assert figure["rows"] == normal([list(row) for row in again]), name
            value = figure["columns"].index(figure["value"])
            marks = [(int(m["row"]), float(m["value"])) for m in MARK.finditer(figure["body"])]
            assert sorted(row for row, _ in marks) == list(range(len(figure["rows"]))), name  # a mark a row
            for row, drawn in marks:
                assert drawn == pytest.approx(float(figure["rows"][row][value])), (name, row)
            assert "<h2>" in figure["body"] and "<figcaption>" in figure["body"] and "SQL" in figure["body"]
    drawn = [name for name, figure in found.items() if figure["rows"]]
    assert set(drawn) == EXPECTED - {"fetch_health"}  # the sample has no web source: no fetch
    assert "No data yet" in found["fetch_health"]["body"]
    # self-contained: nothing to fetch when opened
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//|<link\b|@import|url\(""", html)


@pytest.mark.flow
def test_an_empty_warehouse_says_so(tmp_path: Path, make_config) -> None:
    config = make_config('[warehouse]\npath = "wh"\n')
    assert corpus("views", "-c", config).returncode == 0
    html = make_report(config, tmp_path / "empty.html")
    assert "The warehouse is empty" in html
    found = figures(html)
    assert set(found) == EXPECTED
    for name, figure in found.items():
        assert figure["rows"] == [] and "No data yet" in figure["body"] and not MARK.search(figure["body"]), (
            name
        )


@pytest.mark.flow
def test_report_refuses_to_write_into_the_warehouse(sample_warehouse) -> None:
    inside = sample_warehouse.folder / "wh" / "report.html"
    done = corpus("report", "-c", sample_warehouse.config, "-o", inside)
    assert done.returncode == 2 and "inside the warehouse" in done.stderr and not inside.exists()


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (Debian package `chromium`; .ci/run installs it)")
    return found


@pytest.mark.e2e
def test_a_browser_draws_every_chart_without_console_errors(sample_warehouse, tmp_path: Path) -> None:
    browser = chromium()
    report = tmp_path / "report.html"
    html = make_report(sample_warehouse.config, report)
    rows = {name: len(figure["rows"]) for name, figure in figures(html).items()}
    common = [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    dom = subprocess.run(
        [*common, "--enable-logging=stderr", "--v=0", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert dom.returncode == 0, dom.stderr[-2000:]
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console  # no script error, no failed load
    laid_out = dict(re.findall(r'<figure data-chart="(\w+)" data-drawn="([^"]+)"', dom.stdout))
    marks = dict(re.findall(r'<figure data-chart="(\w+)"[^>]*data-marks="(\d+)"', dom.stdout))
    assert set(laid_out) == set(rows), laid_out
    for name, count in rows.items():
        if count:  # drawn, with a size, and a mark per row
            width, height = (int(v) for v in laid_out[name].split("x"))
            assert width > 200 and height > 10, (name, laid_out[name])
            assert int(marks[name]) == count, (name, marks[name], count)
        else:
            assert laid_out[name] == "none" and marks[name] == "0", name
    broken = tmp_path / "broken.html"  # the console check sees a script error when there is one
    broken.write_text(html.replace("<script>", "<script>undefinedFunction();", 1), encoding="utf-8")
    failed = subprocess.run(
        [*common, "--enable-logging=stderr", "--v=0", "--dump-dom", broken.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert any("CONSOLE" in line and "undefinedFunction" in line for line in failed.stderr.splitlines())
    picture = tmp_path / "report.png"
    shot = subprocess.run(
        [*common, "--window-size=1000,2400", f"--screenshot={picture}", report.as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shot.returncode == 0 and picture.stat().st_size > 50_000, shot.stderr[-2000:]
