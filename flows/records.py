"""The records that flow between the stages, one definition each:

- `Page`: raw HTML as a source yields it, with where it was read from;
- `DocumentRow` / `RejectRow`: what extraction makes of a page, the rows of the `documents` and `rejects`
  tables (`reject_row` is the one constructor of a reject, wherever a page is turned down);
- `Extracted`: the outcome of one page, exactly one of the two;
- `WorkItem`: a piece of a unit that one extraction worker reads by itself;
- `Counts` / `SourceStats` / `RunSummary`: the counters a run keeps per source, declared once and used by
  the summary table, the `runs` table's schema and the staged units alike.

Kept free of heavy imports: extraction workers load this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NotRequired, Protocol, TypedDict

from pydantic import BaseModel, Field, PrivateAttr, computed_field

# Stored files carry it in their metadata; views read files with fewer columns too.
# 2: documents gained cluster_id, similarity, page_type; the signatures table.
# 3: documents: the publication and modification moments with offset and precision, authors as a list,
#    page_title, section, image (author and the day-only published_at retired: tables.py DOCUMENTS.retired)
SCHEMA_VERSION = 3

HTML_TYPES = ("text/html", "application/xhtml+xml")  # Content-Types that are extracted; others: not_html
MAX_DETAIL = 500  # characters of a reject's detail


@dataclass(slots=True)
class Page:
    """Raw HTML as a source yields it, before extraction."""

    url: str
    html: bytes
    fetched_at: datetime
    origin: str  # where the page was read: a file path, or "<archive file>#<record offset>"
    charset: str | None = None  # declared by the HTTP Content-Type header, when there was one


class DocumentRow(TypedDict):
    """A row of `documents` (see warehouse/tables.py for each column's meaning)."""

    doc_id: str
    url: str
    canonical_url: str
    title: str | None
    page_title: str | None
    authors: list[str]
    published_utc: datetime | None
    published_date: date | None
    published_offset: int | None
    published_precision: str | None
    modified_utc: datetime | None
    modified_offset: int | None
    modified_precision: str | None
    section: str | None
    image: str | None
    language: str | None
    sitename: str | None
    description: str | None
    tags: list[str]
    text: str
    word_count: int
    content_hash: str
    duplicate_of: str | None
    page_type: str | None
    fetched_at: datetime
    origin: str
    schema_version: int
    cluster_id: NotRequired[str | None]  # set by dedup at commit
    similarity: NotRequired[float | None]  # set by dedup at commit
    run_id: NotRequired[str]  # set when the row is staged
    bands: NotRequired[list[int]]  # near-dedup LSH band hashes, from the worker to the commit step
    paragraphs: NotRequired[list[int]]  # hashes of the text's paragraphs, likewise
    # the page has <meta property="article:published_time">: for the articles_only filter, not stored
    published_meta: NotRequired[bool]


class RejectRow(TypedDict):
    """A row of `rejects`: a page (or a listing part) that did not become a document, and why."""

    url: str
    reason: str  # no_text, too_short, not_html, robots, http_404, ... (sql/rejects.sql lists them)
    detail: str
    origin: str | None  # where the page was read, or for a page never fetched the listing that named it
    fetched_at: datetime | None
    schema_version: int
    run_id: NotRequired[str]  # set when the row is staged


# One state row per URL a web source fetched (the `fetches` table, warehouse/tables.py FETCH_SCHEMA).
FetchRow = dict[str, Any]


def reject_row(
    url: str, reason: str, detail: str = "", origin: str | None = None, fetched_at: datetime | None = None
) -> RejectRow:
    """The one constructor of a reject row."""
    return {
        "url": url,
        "reason": reason,
        "detail": detail[:MAX_DETAIL],
        "origin": origin,
        "fetched_at": fetched_at,
        "schema_version": SCHEMA_VERSION,
    }


@dataclass(slots=True)
class Extracted:
    """The outcome of extracting one page: exactly one of `document` and `reject` is set."""

    document: DocumentRow | None = None
    reject: RejectRow | None = None


@dataclass(frozen=True, slots=True)
class Skipped:
    """Archive records that are not HTTP responses (request, metadata, resource, warcinfo, dns...):
    skipped by design, and counted. A work item yields one at its end."""

    records: int
    path: str  # the archive file they are in


# What the warehouse remembers of a local input file read completely (the `inputs` table,
# warehouse/tables.py INPUT_SCHEMA), so that a later run skips it while it is unchanged.
InputRow = dict[str, Any]


def rejected(page: Page, reason: str, detail: str = "") -> Extracted:
    """A page turned down, with its reason."""
    return Extracted(reject=reject_row(page.url, reason, detail, page.origin, page.fetched_at))


class WorkItem(Protocol):
    """A picklable piece of a unit (a few files, a byte range of an archive), read inside an extraction
    worker, so that page bytes never pass through the parent process. Read problems of one page come out
    as rejects, never as exceptions; a problem that ends the item (a truncated archive) is raised as
    SourceError after the pages read so far."""

    def pages(self) -> Iterator[Page | Extracted | Skipped]: ...

    def resume_after(self, origin: str) -> WorkItem | None:
        """The rest of this item after the page read from `origin` (None when nothing is left)."""
        ...


class Counts(BaseModel):
    """The counters of a source's run, in the order pages pass the stages."""

    seen: int = 0  # pages read from the source
    extracted: int = 0  # pages that yielded a main text
    duplicates: int = 0  # extracted texts already in the corpus (same page, or same text elsewhere)
    rejected: int = 0  # pages with no usable text, with a reason in `rejects`
    written: int = 0  # rows added to `documents` (new articles, and copies found under new URLs)
    unchanged: int = 0  # web pages fetched again with no change (304, or the same body): not extracted
    skipped: int = 0  # archive records that are not HTTP responses (request, metadata...): not pages

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTS}

    def add_counts(self, other: Counts) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))


COUNTS: tuple[str, ...] = tuple(Counts.model_fields)


SHOWN_ERRORS = 3  # errors named in full in a unit's or a source's error; the rest are counted


def one_line(errors: list[str]) -> str | None:
    """Errors in one line: each distinct message once (every byte range of a missing file says the same),
    the first SHOWN_ERRORS in full, then how many more."""
    distinct = list(dict.fromkeys(errors))
    if not distinct:
        return None
    more = len(distinct) - SHOWN_ERRORS
    shown = "; ".join(distinct[:SHOWN_ERRORS])
    return shown if more <= 0 else f"{shown}; and {more} more"


# A source whose rejects reach this share of its pages (once it has seen at least REJECT_WARNING_PAGES) is
# logged as a warning: half the pages turned down is what a site redesign or a block looks like, while a
# few rejects per run (a 404, an index page) are the normal state of a news site.
REJECT_WARNING_SHARE = 0.5
REJECT_WARNING_PAGES = 10  # below this, a share says little (2 of 3 pages rejected is not a trend)
SHOWN_REASONS = 5  # reject reasons named in a source's line; the rest are counted
STATE_MESSAGE_ERROR = 300  # characters of a source's error in a run's state message (the UI shows one line)


class SourceStats(Counts):
    seconds: float = 0.0
    status: str = "completed"  # completed, failed, skipped (a run of the source was still going)
    error: str | None = None
    reasons: dict[str, int] = Field(default_factory=dict)  # rejected pages by reason (the rejects table's)
    _errors: list[str] = PrivateAttr(default_factory=list)

    def add(self, other: Counts) -> None:
        self.add_counts(other)
        for reason, count in getattr(other, "reasons", {}).items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count
        error = getattr(other, "error", None)
        if error:
            self.fail(error)

    def fail(self, error: str) -> None:
        self.status = "failed"
        if self.error and not self._errors:  # set when the stats were made
            self._errors.append(self.error)
        self._errors.append(error)
        self.error = one_line(self._errors)

    @property
    def many_rejected(self) -> bool:
        """Rejects at or above REJECT_WARNING_SHARE of enough pages: worth a warning."""
        return self.seen >= REJECT_WARNING_PAGES and self.rejected >= REJECT_WARNING_SHARE * self.seen

    def reasons_line(self) -> str:
        """`connect_error 3, http_404 1`: the most frequent reasons first, then how many more."""
        ranked = sorted(self.reasons.items(), key=lambda item: (-item[1], item[0]))
        shown = ", ".join(f"{reason} {count}" for reason, count in ranked[:SHOWN_REASONS])
        more = len(ranked) - SHOWN_REASONS
        return shown if more <= 0 else f"{shown}, {more} more reasons"

    def line(self, name: str) -> str:
        """The source's run in one line, for the flow run's log: what was seen, written and turned down
        (by reason), how long it took, and why it failed."""
        counts = [f"{self.seen} seen", f"{self.written} written"]
        counts += [
            f"{getattr(self, c)} {c}" for c in ("duplicates", "unchanged", "skipped") if getattr(self, c)
        ]
        if self.rejected:
            counts.append(f"{self.rejected} rejected" + (f" ({self.reasons_line()})" if self.reasons else ""))
        line = f"source {name}: {self.status} in {self.seconds:.1f} s: {', '.join(counts)}"
        if self.many_rejected:
            line += f"; {self.rejected / self.seen:.0%} of its pages rejected"
        if self.error:
            line += f"; error: {self.error}"
        return line


class RunSummary(BaseModel):
    run_id: str
    warehouse: str
    catalog: str
    seconds: float
    sources: dict[str, SourceStats]
    # the commit step (dedup, Parquet, the dedup index; one process commits): seconds it worked, and its
    # thread's CPU seconds, so a run says how near one committer is to being its limit
    commit_seconds: float = 0.0
    commit_cpu_seconds: float = 0.0
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def ok(self) -> bool:
        """No source failed (a skipped source is not a failure: its other run is doing the work)."""
        return not self.failed

    @property
    def failed(self) -> dict[str, SourceStats]:
        return {name: stats for name, stats in self.sources.items() if stats.status == "failed"}

    @computed_field  # type: ignore[prop-decorator]  # in the summary's JSON too
    @property
    def status(self) -> str:
        """completed; failed (every source failed); partly failed (some failed, the others' work stays)."""
        if self.ok:
            return "completed"
        return "failed" if len(self.failed) == len(self.sources) else "partly failed"

    def total(self) -> SourceStats:
        total = SourceStats()
        for stats in self.sources.values():
            total.add(stats)
        total.seconds = self.seconds
        return total

    def state_message(self) -> str:
        """The run in one line, for its Prefect state: which sources failed and why, or what it did."""
        total = self.total()
        done = f"{total.written} written, {total.duplicates} duplicates, {total.rejected} rejected"
        if self.ok:
            return f"{len(self.sources)} source{_s(self.sources)} completed: {total.seen} seen, {done}"
        failures = "; ".join(
            f"{name}: {_cut(stats.error or 'failed', STATE_MESSAGE_ERROR)}"
            for name, stats in self.failed.items()
        )
        kept = "" if self.status == "failed" else f" (the other sources' work is committed: {done})"
        return f"{len(self.failed)} of {len(self.sources)} sources failed: {failures}{kept}"

    def markdown(self) -> str:
        """The run for a Prefect artifact, narrow enough for a laptop screen: its status and totals first,
        then one short row per source, then the errors and reject reasons in full (the same figures as the
        `runs` view)."""
        total = self.total()
        when = " → ".join(t.strftime("%Y-%m-%d %H:%M:%S UTC") for t in (self.started_at, self.ended_at) if t)
        lines = [
            f"### Run `{self.run_id}`: {self.status}",
            "",
            f"**{total.written} written** · {total.seen} seen · {total.duplicates} duplicates · "
            f"{total.rejected} rejected · {self.seconds:.1f} s",
            "",
            f"{when} · warehouse `{self.warehouse}`",
            "",
            "| source | status | seen | written | duplicates | rejected | seconds |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, stats in self.sources.items():
            cells = [
                name,
                stats.status,
                *(str(getattr(stats, c)) for c in ("seen", "written", "duplicates", "rejected")),
            ]
            lines.append("| " + " | ".join([*(_cell(c) for c in cells), f"{stats.seconds:.1f}"]) + " |")
        details = []
        for name, stats in self.sources.items():
            other = ", ".join(f"{getattr(stats, c)} {c}" for c in ("extracted", "unchanged", "skipped"))
            details.append(f"- **{_cell(name)}**: {other}")
            if stats.reasons:
                details.append(f"  - rejected: {stats.reasons_line()}")
            if stats.error:
                details.append(f"  - error: {_cell(stats.error)}")
        return "\n".join([*lines, "", "#### Details", "", *details]) + "\n"


def _s(items: Any) -> str:
    return "" if len(items) == 1 else "s"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _cell(text: str) -> str:
    """Text for a markdown table cell or list item: one line, no column breaks."""
    return " ".join(text.split()).replace("|", "\\|")
