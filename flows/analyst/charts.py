"""Static SVG charts for the report: lines over time, stacked bars, horizontal bars, a matrix. Drawn here,
in a few hundred lines, rather than by a charting library (docs/report.md says why): the output is plain
SVG text, needs no script or network to view, weighs a few kilobytes per chart whatever the corpus size
(the report aggregates in SQL first), and is the same for the same numbers.

Every mark (a bar, a point, a cell) carries `data-row` (its row in the chart's data) and `data-value` (the
number it draws), so a test can check that what is drawn is what the SQL gave.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

# Tableau 10: distinct for most colour-blind readers; series beyond it reuse it.
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)  # fmt: skip
WIDTH = 760  # px of a chart's drawing: fits a laptop screen beside nothing, and prints on A4
HEIGHT = 260  # px of a time or bar chart's plotting area
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 44  # px margins: axis labels and ticks
BAR_ROW = 22  # px per category of a horizontal bar chart


@dataclass(frozen=True)
class Mark:
    """One drawn value: its row in the data, the number, and the series it belongs to."""

    row: int
    value: float
    series: str


def _attrs(mark: Mark) -> str:
    return f'data-row="{mark.row}" data-value="{_number(mark.value)}" data-series="{escape(mark.series)}"'


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


def label(value: float) -> str:
    """A tick or value label: 1,234 / 1.5k / 2.3M."""
    magnitude = abs(value)
    if magnitude >= 1e6:
        return f"{value / 1e6:.3g}M"
    if magnitude >= 1e4:
        return f"{value / 1e3:.3g}k"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


def ticks(top: float, count: int = 5, whole: bool = True) -> list[float]:
    """Round tick values from 0 to at least `top` (whole numbers unless `whole` is false)."""
    if top <= 0:
        return [0.0, 1.0]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    if whole:
        step = max(step, 1.0)  # counts: no tick at 2.5 pages
    values = [0.0]
    while values[-1] < top:
        values.append(values[-1] + step)
    return values


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" font-family="system-ui, sans-serif" '
        f'font-size="11">' + "".join(body) + "</svg>"
    )


def _legend(names: Sequence[str], y: int) -> list[str]:
    parts, x = [], LEFT
    for index, name in enumerate(names):
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{y}">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    return parts


def _value_axis(top: float, unit: str, height: int) -> tuple[list[str], float]:
    """Horizontal grid lines and labels for values 0..top; returns the SVG parts and the scale's top."""
    marks = ticks(top)
    scale_top = marks[-1]
    parts = []
    for value in marks:
        y = TOP + height - height * value / scale_top
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{label(value)}</text>'
        )
    parts.append(
        f'<text x="14" y="{TOP + height / 2:.0f}" transform="rotate(-90 14 {TOP + height / 2:.0f})" '
        f'text-anchor="middle" fill="#333">{escape(unit)}</text>'
    )
    return parts, scale_top


def _period_axis(periods: Sequence[str], period_name: str) -> list[str]:
    """The x axis of a chart over periods: at most eight labels, each under its period's middle, and the
    axis' name."""
    count = max(len(periods), 1)
    step = (WIDTH - LEFT - RIGHT) / count
    parts = [
        f'<text x="{LEFT + step * (index + 0.5):.1f}" y="{TOP + HEIGHT + 16}" text-anchor="middle" '
        f'fill="#555">{escape(periods[index])}</text>'
        for index in range(0, len(periods), max(1, math.ceil(count / 8)))
    ]
    middle = LEFT + (WIDTH - LEFT - RIGHT) / 2
    parts.append(
        f'<text x="{middle:.0f}" y="{TOP + HEIGHT + 32}" text-anchor="middle" fill="#333">'
        f"{escape(period_name)}</text>"
    )
    return parts


def time_series(
    title: str,
    periods: Sequence[str],
    series: dict[str, list[tuple[int, float]]],
    unit: str,
    period_name: str,
) -> str:
    """Lines (points joined) of each series over `periods` (labels on the x axis, in order); a series is
    [(row, value)] aligned with `periods` (value 0 where absent is up to the caller). One period: bars."""
    names = list(series)
    top = max((v for points in series.values() for _, v in points), default=0.0)
    parts, scale_top = _value_axis(top, unit, HEIGHT)
    span = WIDTH - LEFT - RIGHT
    count = max(len(periods), 1)
    step = span / count

    def x(index: int) -> float:
        return LEFT + step * (index + 0.5)

    def y(value: float) -> float:
        return TOP + HEIGHT - HEIGHT * value / scale_top

    for number, name in enumerate(names):
        colour = PALETTE[number % len(PALETTE)]
        points = series[name]
        if len(points) > 1:
            path = " ".join(f"{x(i):.1f},{y(v[1]):.1f}" for i, v in enumerate(points))
            parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.6"/>')
        for index, (row, value) in enumerate(points):
            if row < 0:
                continue  # a period without a row: drawn as 0 by the line, not a mark of the data
            parts.append(
                f'<circle cx="{x(index):.1f}" cy="{y(value):.1f}" r="{2.2 if len(points) > 60 else 3}" '
                f'fill="{colour}" class="mark" {_attrs(Mark(row, value, name))}>'
                f"<title>{escape(name)} {escape(periods[index])}: {label(value)}</title></circle>"
            )
    parts += _period_axis(periods, period_name)
    parts += _legend(names, TOP + HEIGHT + BOTTOM + 8)
    return _svg(WIDTH, TOP + HEIGHT + BOTTOM + 16, parts, title)


Stacks = dict[str, list[tuple[int, float]]]  # per series, (row, value) of each period or category


def stacked_columns(
    title: str,
    periods: Sequence[str],
    stacks: Stacks,
    unit: str,
    period_name: str,
    colours: Mapping[str, str] | None = None,
    notes: Sequence[str] | None = None,
) -> str:
    """A column per period, stacked by series; `stacks` as time_series' series; `notes`: what each
    period's tooltip adds after its label."""
    names = list(stacks)
    count = max(len(periods), 1)
    totals = [sum(stacks[n][i][1] for n in names) for i in range(len(periods))]
    parts, scale_top = _value_axis(max(totals, default=0.0), unit, HEIGHT)
    span = WIDTH - LEFT - RIGHT
    step = span / count
    width = max(1.0, step * 0.8)
    for index in range(len(periods)):
        base = 0.0
        for number, name in enumerate(names):
            row, value = stacks[name][index]
            if row < 0:
                continue
            top_y = TOP + HEIGHT - HEIGHT * (base + value) / scale_top
            height = HEIGHT * value / scale_top
            colour = (colours or {}).get(name) or PALETTE[number % len(PALETTE)]
            parts.append(
                f'<rect x="{LEFT + step * index + (step - width) / 2:.1f}" y="{top_y:.1f}" '
                f'width="{width:.1f}" height="{max(height, 0.5):.1f}" fill="{colour}" class="mark" '
                f"{_attrs(Mark(row, value, name))}><title>{escape(name)} {escape(periods[index])}"
                f"{escape(notes[index]) if notes else ''}: "
                f"{label(value)}</title></rect>"
            )
            base += value
    parts += _period_axis(periods, period_name)
    if len(names) > 1 or colours:
        parts += _legend(names, TOP + HEIGHT + BOTTOM + 8)
    return _svg(WIDTH, TOP + HEIGHT + BOTTOM + 16, parts, title)


def bars(title: str, categories: Sequence[str], stacks: dict[str, list[tuple[int, float]]], unit: str) -> str:
    """A horizontal bar per category (top to bottom), stacked by series; `stacks[name][i]` = (row, value)
    of category i."""
    names = list(stacks)
    gutter = min(260, 12 + 6 * max((len(c) for c in categories), default=4))
    totals = [sum(stacks[n][i][1] for n in names) for i in range(len(categories))]
    scale_top = ticks(max(totals, default=0.0))[-1]
    span = WIDTH - gutter - RIGHT - 40
    height = BAR_ROW * len(categories)
    parts = []
    for value in ticks(max(totals, default=0.0)):
        x = gutter + span * value / scale_top
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{TOP + height}" stroke="#e3e3e3"/>'
            f'<text x="{x:.1f}" y="{TOP + height + 14}" text-anchor="middle" fill="#555">'
            f"{label(value)}</text>"
        )
    for index, category in enumerate(categories):
        y = TOP + BAR_ROW * index
        short = category if len(category) <= 42 else category[:41] + "…"
        parts.append(
            f'<text x="{gutter - 6}" y="{y + BAR_ROW * 0.68:.1f}" text-anchor="end" fill="#333">'
            f"<title>{escape(category)}</title>{escape(short)}</text>"
        )
        base = 0.0
        for number, name in enumerate(names):
            row, value = stacks[name][index]
            if row < 0:
                continue
            parts.append(
                f'<rect x="{gutter + span * base / scale_top:.1f}" y="{y + 3}" '
                f'width="{max(span * value / scale_top, 0.5):.1f}" height="{BAR_ROW - 6}" '
                f'fill="{PALETTE[number % len(PALETTE)]}" class="mark" {_attrs(Mark(row, value, name))}>'
                f"<title>{escape(category)} · {escape(name)}: {label(value)}</title></rect>"
            )
            base += value
        parts.append(
            f'<text x="{gutter + span * base / scale_top + 4:.1f}" y="{y + BAR_ROW * 0.68:.1f}" '
            f'fill="#555">{label(totals[index])}</text>'
        )
    parts.append(
        f'<text x="{gutter + span / 2:.0f}" y="{TOP + height + 30}" text-anchor="middle" fill="#333">'
        f"{escape(unit)}</text>"
    )
    if len(names) > 1:
        parts += _legend(names, TOP + height + 48)
    return _svg(WIDTH, TOP + height + (60 if len(names) > 1 else 40), parts, title)


def matrix(title: str, rows: Sequence[str], columns: Sequence[str], cells: list[tuple[int, int, int, float]],
           row_name: str, column_name: str) -> str:  # fmt: skip
    """A heat map: `cells` = (data row, row index, column index, value); darker is more."""
    gutter = min(200, 12 + 6 * max((len(r) for r in rows), default=4))
    size = max(18, min(44, (WIDTH - gutter - RIGHT) // max(len(columns), 1)))
    head = 110
    top = max((value for *_, value in cells), default=1.0) or 1.0
    parts = []
    for index, name in enumerate(columns):
        x = gutter + size * index + size / 2
        parts.append(
            f'<text x="{x:.1f}" y="{head - 6}" transform="rotate(-50 {x:.1f} {head - 6})" fill="#333">'
            f"{escape(name)}</text>"
        )
    for index, name in enumerate(rows):
        parts.append(
            f'<text x="{gutter - 6}" y="{head + size * index + size * 0.62:.1f}" text-anchor="end" '
            f'fill="#333">{escape(name)}</text>'
        )
    for row, r, c, value in cells:
        shade = 0.12 + 0.88 * math.sqrt(value / top)
        parts.append(
            f'<rect x="{gutter + size * c}" y="{head + size * r}" width="{size - 2}" height="{size - 2}" '
            f'fill="#4e79a7" fill-opacity="{shade:.2f}" class="mark" '
            f"{_attrs(Mark(row, value, columns[c]))}><title>{escape(rows[r])} → {escape(columns[c])}: "
            f"{label(value)}</title></rect>"
        )
        if size >= 28:
            parts.append(
                f'<text x="{gutter + size * c + size / 2 - 1:.1f}" y="{head + size * r + size * 0.6:.1f}" '
                f'text-anchor="middle" font-size="10" fill="{"#fff" if shade > 0.55 else "#222"}">'
                f"{label(value)}</text>"
            )
    bottom = head + size * len(rows)
    parts.append(f'<text x="{gutter}" y="{bottom + 18}" fill="#333">rows: {escape(row_name)} · columns: '
                 f"{escape(column_name)}</text>")  # fmt: skip
    return _svg(max(WIDTH, gutter + size * len(columns) + RIGHT), bottom + 28, parts, title)
