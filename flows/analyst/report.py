"""`corpus report`: one self-contained HTML file of pictures of the corpus, built from the views.

Each figure is one SQL statement over the views (aggregated there, so the file's size does not grow with
the corpus), drawn as static SVG (analyst/charts.py) with a title, axes with units, a caption saying what
it counts, the SQL it came from, and its result embedded as JSON beside it: what a test compares with the
SQL, and what a reader can copy. Nothing is fetched when the file is opened: no script, font or style
comes from elsewhere.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html import escape
from types import MappingProxyType
from typing import Any

import duckdb

from flows.analyst import charts, query

TOP_SERIES = 8  # sources or reasons drawn as their own series; the rest are summed as "other"
TOP_ROWS = 15  # categories in a bar chart or rows in a table (hosts, languages, stories)
LAST_RUNS = 60  # runs drawn in the runs chart
HOST = r"lower(regexp_extract(url, '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/]*@)?([^/:?#]+)', 1))"


@dataclass
class Figure:
    name: str
    value: str  # the column whose numbers the marks draw
    title: str
    caption: str  # what it counts, in a sentence or two
    sql: str
    columns: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    drawing: str = ""  # SVG or an HTML table; empty: no data


def _period(con: duckdb.DuckDBPyConnection, view: str, column: str) -> tuple[str, str]:
    """The time step for a view's dates: day for up to half a year, week up to three years, else month."""
    first, last = con.execute(f"SELECT min({column}), max({column}) FROM {view}").fetchone() or (None, None)
    if first is None or last is None:
        return "day", "day"
    days = (last - first).days if isinstance(last, date) else 0
    if days <= 183:
        return "day", "day"
    if days <= 3 * 366:
        return "week", "week (starting Monday)"
    return "month", "month"


def _run(con: duckdb.DuckDBPyConnection, figure: Figure, timeout: float | None) -> None:
    result = query.run(con, figure.sql, timeout)
    figure.columns = result.column_names
    figure.rows = [[query.plain(v) for v in row.values()] for row in result.to_pylist()]


def _series(rows: list[list[Any]], key: int, group: int, value: int) -> tuple[list[str], charts.Stacks]:
    """Rows (period or category, series, value) as the charts take them: the keys in order of appearance,
    and per series [(row, value)] aligned with the keys ((-1, 0) where a series has no row)."""
    keys = list(dict.fromkeys(str(r[key]) for r in rows))
    names = list(dict.fromkeys(str(r[group]) for r in rows))
    position = {k: i for i, k in enumerate(keys)}
    series = {n: [(-1, 0.0)] * len(keys) for n in names}
    for index, row in enumerate(rows):
        series[str(row[group])][position[str(row[key])]] = (index, float(row[value]))
    return keys, series


def _top(expression: str, measure: str, source: str, limit: int = TOP_SERIES) -> str:
    """`expression`, or 'other' beyond the `limit` largest by `measure` in `source` (a FROM clause)."""
    return (
        f"CASE WHEN {expression} IN (SELECT {expression} FROM {source} GROUP BY ALL "
        f"ORDER BY {measure} DESC, 1 LIMIT {limit}) THEN {expression} ELSE 'other' END"
    )


def growth(con: duckdb.DuckDBPyConnection) -> list[Figure]:
    step, step_name = _period(con, "documents", "CAST(fetched_at AS DATE)")
    source = _top("source", "count(*)", "documents")
    stored = Figure(
        "documents_per_day",
        "documents",
        "Documents stored, by source",
        f"Rows added to `documents` per {step_name} and source, by the day they were fetched (new articles "
        "and their copies under new URLs): how the corpus grows.",
        f"SELECT CAST(date_trunc('{step}', fetched_at) AS DATE) AS period, {source} AS source, "
        "count(*) AS documents FROM documents GROUP BY ALL ORDER BY period, source",
    )
    # the days of daily_counts lie within these (read from documents: the articles view is not built twice)
    step, step_name = _period(con, "documents", "coalesce(published_date, CAST(fetched_at AS DATE))")
    source = _top("source", "sum(articles)", "daily_counts")
    articles = Figure(
        "articles_per_day",
        "articles",
        "Articles, by source and publication day",
        f"Distinct articles (a story and its copies count once) per {step_name} of publication (the fetch "
        "day when a page gives none) and source.",
        f"SELECT CAST(date_trunc('{step}', day) AS DATE) AS period, {source} AS source, "
        "CAST(sum(articles) AS BIGINT) AS articles FROM daily_counts GROUP BY ALL ORDER BY period, source",
    )
    return [stored, articles]


def _draw_time(figure: Figure, unit: str, period_name: str, stacked: bool = False) -> None:
    periods, series = _series(figure.rows, 0, 1, 2)
    periods, series = _every_period(periods, series, period_name.split()[0])
    draw = charts.stacked_columns if stacked else charts.time_series
    figure.drawing = draw(figure.title, periods, series, unit, period_name)


def _every_period(periods: list[str], series: charts.Stacks, step: str) -> tuple[list[str], charts.Stacks]:
    """Every period from the first to the last, so that the x axis is time: a period without a row counts
    zero (drawn, but no mark of the data)."""
    known = sorted(date.fromisoformat(p) for p in periods)
    if not known:
        return periods, series
    every, day = [], known[0]
    while day <= known[-1]:
        every.append(day.isoformat())
        if step == "day":
            day = date.fromordinal(day.toordinal() + 1)
        elif step == "week":
            day = date.fromordinal(day.toordinal() + 7)
        else:
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    where = {p: i for i, p in enumerate(periods)}
    filled = {
        name: [points[where[p]] if p in where else (-1, 0.0) for p in every]
        for name, points in series.items()
    }
    return every, filled


def languages() -> Figure:
    return Figure(
        "languages",
        "articles",
        "Articles by language",
        f"Distinct articles per language (ISO 639-1; declared by the page when its text agrees, else "
        f"detected), the {TOP_ROWS} largest.",
        "SELECT coalesce(language, 'unknown') AS language, count(*) AS articles FROM articles "
        f"GROUP BY ALL ORDER BY articles DESC, language LIMIT {TOP_ROWS}",
    )


def rejects_over_time(con: duckdb.DuckDBPyConnection) -> Figure:
    step, _ = _period(con, "rejects", "CAST(fetched_at AS DATE)")
    reason = _top("reason", "count(*)", "rejects", 6)
    return Figure(
        "rejects_over_time",
        "pages",
        "Rejected pages, by reason",
        f"Pages turned down per {step} (the first time for each page and reason), stacked by reason: the "
        "six most frequent, the rest as other.",
        f"SELECT CAST(date_trunc('{step}', fetched_at) AS DATE) AS period, {reason} AS reason, "
        "count(*) AS pages FROM rejects GROUP BY ALL ORDER BY period, reason",
    )


def rejects_by_host() -> Figure:
    return Figure(
        "rejects_by_host",
        "pages",
        "Rejected pages, by host",
        f"Pages turned down per host of their URL, the {TOP_ROWS} hosts with most, stacked by reason.",
        f"WITH r AS (SELECT {HOST} AS host, reason FROM rejects), "
        f"top AS (SELECT host, count(*) AS n FROM r GROUP BY host ORDER BY n DESC, host LIMIT {TOP_ROWS}) "
        "SELECT r.host, reason, count(*) AS pages FROM r JOIN top ON r.host = top.host "
        "GROUP BY r.host, reason, top.n ORDER BY top.n DESC, r.host, pages DESC, reason",
    )


def syndicated() -> Figure:
    return Figure(
        "syndicated",
        "copies",
        "The most syndicated stories",
        f"The {TOP_ROWS} articles found under the most URLs (exact and near copies), with the sources that "
        "carried them and when the copies were first and last fetched.",
        "SELECT a.title, a.copies, list(DISTINCT d.source ORDER BY d.source) AS sources, "
        "min(d.fetched_at) AS first_seen, max(d.fetched_at) AS last_seen "
        "FROM articles a JOIN documents d ON d.cluster_id = a.cluster_id WHERE a.copies > 1 "
        "GROUP BY a.cluster_id, a.title, a.copies "
        f"ORDER BY a.copies DESC, first_seen, a.title LIMIT {TOP_ROWS}",
    )


def copies_between_sources() -> Figure:
    return Figure(
        "who_copies_whom",
        "copies",
        "Who copies whom",
        "Documents stored as a copy (duplicate_of) of a document of another or the same source: rows are "
        "the source that had the text first, columns the source that carried the copy.",
        "SELECT o.source AS first_source, d.source AS copied_by, count(*) AS copies FROM documents d "
        "JOIN documents o ON d.duplicate_of = o.doc_id GROUP BY ALL ORDER BY first_source, copied_by",
    )


def fetch_health() -> Figure:
    return Figure(
        "fetch_health",
        "fetches",
        "Fetch health, by host",
        f"Web fetches per host (the {TOP_ROWS} hosts fetched most), stacked by HTTP status class; beside "
        "each host the share answered 304 Not Modified and the median request time in seconds.",
        "WITH f AS (SELECT host, CASE WHEN status IS NULL THEN 'no response' WHEN status = 304 THEN '304' "
        "ELSE (status // 100) || 'xx' END AS status_class, status, seconds FROM fetches), "
        "hosts AS (SELECT host, count(*) AS n, avg(CAST(coalesce(status = 304, false) AS DOUBLE)) AS nm, "
        f"median(seconds) AS ms FROM f GROUP BY host ORDER BY n DESC, host LIMIT {TOP_ROWS}) "
        "SELECT f.host, status_class, count(*) AS fetches, "
        "round(any_value(hosts.nm), 3) AS not_modified_share, "
        "round(any_value(hosts.ms), 3) AS median_seconds FROM f JOIN hosts ON f.host = hosts.host "
        "GROUP BY f.host, status_class ORDER BY any_value(hosts.n) DESC, f.host, status_class",
    )


def runs() -> Figure:
    return Figure(
        "runs",
        "seconds",
        "Runs: wall time",
        f"The last {LAST_RUNS} ingest runs in the order they started: wall time in seconds, coloured by how "
        "the run ended (failed: a source failed); pages seen and written in each bar's tooltip.",
        "SELECT run_id, started_at, status, seconds, seen, written FROM "
        f"(SELECT * FROM runs WHERE seconds IS NOT NULL ORDER BY started_at DESC LIMIT {LAST_RUNS}) "
        "ORDER BY started_at",
    )


STATUS_COLOURS = MappingProxyType(
    {"completed": "#59a14f", "failed": "#e15759", "interrupted": "#edc948", "running": "#bab0ac"}
)


def figures(con: duckdb.DuckDBPyConnection, timeout: float | None = None) -> list[Figure]:
    """Every figure of the report, its SQL run and its drawing made."""
    made: list[tuple[Figure, Callable[[Figure], None]]] = []
    stored, articles = growth(con)
    made.append((stored, lambda f: _draw_time(f, "documents", _unit_of(f))))
    made.append((articles, lambda f: _draw_time(f, "articles", _unit_of(f))))
    made.append((languages(), lambda f: _draw_bars(f, 0, None, 1, "articles")))
    made.append((rejects_over_time(con), lambda f: _draw_time(f, "pages", _unit_of(f), stacked=True)))
    made.append((rejects_by_host(), lambda f: _draw_bars(f, 0, 1, 2, "pages rejected")))
    made.append((syndicated(), _draw_stories))
    made.append((copies_between_sources(), _draw_matrix))
    made.append((fetch_health(), _draw_health))
    made.append((runs(), _draw_runs))
    for figure, draw in made:
        _run(con, figure, timeout)
        if figure.rows:
            draw(figure)
    return [figure for figure, _ in made]


def _unit_of(figure: Figure) -> str:
    step = figure.sql.split("date_trunc('", 1)[1].split("'", 1)[0]
    return {"day": "day", "week": "week (starting Monday)", "month": "month"}[step]


def _draw_bars(figure: Figure, key: int, group: int | None, value: int, unit: str) -> None:
    if group is None:
        categories = [str(r[key]) for r in figure.rows]
        stacks = {figure.columns[value]: [(i, float(r[value])) for i, r in enumerate(figure.rows)]}
    else:
        categories, stacks = _series(figure.rows, key, group, value)
    figure.drawing = charts.bars(figure.title, categories, stacks, unit)


def _draw_health(figure: Figure) -> None:
    hosts, stacks = _series(figure.rows, 0, 1, 2)
    about = {str(r[0]): (r[3], r[4]) for r in figure.rows}
    labels = []
    for host in hosts:
        share, median = about[host]
        timing = "no timing" if median is None else f"median {median:g} s"
        labels.append(f"{host} · 304: {share:.0%} · {timing}")
    figure.drawing = charts.bars(figure.title, labels, stacks, "fetches")


def _draw_runs(figure: Figure) -> None:
    periods = [f"{r[1][5:16].replace('T', ' ')}" for r in figure.rows]  # MM-DD HH:MM of started_at
    statuses = list(dict.fromkeys(str(r[2]) for r in figure.rows))
    stacks = {
        s: [(i, float(r[3])) if r[2] == s else (-1, 0.0) for i, r in enumerate(figure.rows)] for s in statuses
    }
    pages = [f" ({r[4]} seen, {r[5]} written)" for r in figure.rows]  # in each bar's tooltip
    figure.drawing = charts.stacked_columns(
        figure.title, periods, stacks, "seconds", "run (start, UTC)", colours=STATUS_COLOURS, notes=pages
    )


def _draw_matrix(figure: Figure) -> None:
    rows = sorted({str(r[0]) for r in figure.rows})
    columns = sorted({str(r[1]) for r in figure.rows})
    cells = [
        (i, rows.index(str(r[0])), columns.index(str(r[1])), float(r[2])) for i, r in enumerate(figure.rows)
    ]
    figure.drawing = charts.matrix(
        figure.title, rows, columns, cells, "the source that had it first", "the source that copied it"
    )


def _draw_stories(figure: Figure) -> None:
    """A table, its copies also drawn as a bar (the mark of each row)."""
    top = max(float(r[1]) for r in figure.rows)
    head = "".join(f"<th>{name}</th>" for name in ("story", "copies", "sources", "first seen", "last seen"))
    lines = [f'<table class="stories"><thead><tr>{head}</tr></thead><tbody>']
    for index, (title, copies, sources, first, last) in enumerate(figure.rows):
        width = 120 * float(copies) / top
        lines.append(
            f'<tr><td>{escape(str(title or "(untitled)"))}</td><td class="num"><svg width="170" height="14">'
            f'<rect x="0" y="2" width="{width:.1f}" height="10" fill="{charts.PALETTE[0]}" class="mark" '
            f'data-row="{index}" data-value="{copies}" data-series="copies"/>'
            f'<text x="{width + 4:.1f}" y="11" font-size="11">{copies}</text></svg></td>'
            f"<td>{escape(', '.join(sources))}</td><td>{_minute(first)}</td><td>{_minute(last)}</td></tr>"
        )
    figure.drawing = "".join(lines) + "</tbody></table>"


def _minute(moment: object) -> str:
    return escape(str(moment)[:16].replace("T", " "))


STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; color: #222; margin: 0 auto; max-width: 820px; padding: 24px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 0 0 6px; }
.meta { color: #555; margin-bottom: 18px; } .empty { color: #777; font-style: italic; }
figure { margin: 0 0 28px; padding: 14px 16px; border: 1px solid #e2e2e2; border-radius: 6px; }
figcaption { color: #444; margin-top: 6px; }
pre { white-space: pre-wrap; font-size: 12px; background: #f6f6f6; padding: 8px; }
table.stories { border-collapse: collapse; width: 100%; font-size: 12px; }
table.stories td, table.stories th { border-bottom: 1px solid #eee; padding: 3px 6px; text-align: left;
vertical-align: top; } svg { max-width: 100%; height: auto; }
"""

# Marks each figure once the page has been laid out (the browser test reads it: every drawing has a size).
CHECK = """
document.querySelectorAll('figure').forEach(function (f) {
  var s = f.querySelector('table.stories') || f.querySelector('svg');
  var b = s ? s.getBoundingClientRect() : null;
  f.setAttribute('data-drawn', b ? Math.round(b.width) + 'x' + Math.round(b.height) : 'none');
  f.setAttribute('data-marks', String(f.querySelectorAll('.mark').length));
});
"""


def render(figures: list[Figure], title: str, warehouse: str, seconds: float | None = None) -> str:
    """The report as one HTML document (inline style, SVG, data; one small inline script that only marks
    what was laid out)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    empty = all(not f.rows for f in figures)
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f'<h1>{escape(title)}</h1><p class="meta">Warehouse <code>{escape(warehouse)}</code> · made {now}'
        + (f" in {seconds:.1f} s" if seconds is not None else "")
        + " · every figure's SQL and numbers are below it</p>",
    ]
    if empty:
        parts.append("<p class=\"empty\">The warehouse is empty: no document, reject, fetch or run yet. "
                     "Run <code>corpus ingest</code>, then make the report again.</p>")  # fmt: skip
    for figure in figures:
        data = json.dumps(
            {"sql": figure.sql, "value": figure.value, "columns": figure.columns, "rows": figure.rows},
            default=str,
        )
        data = data.replace("</", "<\\/")  # never ends the script element
        drawing = figure.drawing or '<p class="empty">No data yet.</p>'
        parts.append(
            f'<figure data-chart="{figure.name}"><h2>{escape(figure.title)}</h2>{drawing}'
            f"<figcaption>{escape(figure.caption)} <details><summary>SQL</summary><pre>"
            f"{escape(figure.sql)}</pre></details></figcaption>"
            f'<script type="application/json" class="chart-data">{data}</script></figure>'
        )
    parts.append(f"<script>{CHECK}</script></body></html>")
    return "".join(parts)


def build(con: duckdb.DuckDBPyConnection, warehouse: str, timeout: float | None = None) -> str:
    started = time.monotonic()
    made = figures(con, timeout)
    return render(made, "Corpus report", warehouse, time.monotonic() - started)
