"""Counts a run keeps per source, in the order pages pass the stages."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

COUNTS = ("seen", "extracted", "duplicates", "rejected", "written", "unchanged")


class SourceStats(BaseModel):
    seen: int = 0  # pages read from the source
    extracted: int = 0  # pages that yielded a main text
    duplicates: int = 0  # extracted texts already in the corpus (same page, or same text elsewhere)
    rejected: int = 0  # pages with no usable text, with a reason in `rejects`
    written: int = 0  # rows added to `documents` (new articles, and copies found under new URLs)
    unchanged: int = 0  # web pages fetched again with no change (304, or the same body): not extracted
    seconds: float = 0.0
    status: str = "completed"  # completed, failed, skipped (a run of the source was still going)
    error: str | None = None

    def add(self, other: SourceStats) -> None:
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        if other.error:
            self.fail(other.error)

    def fail(self, error: str) -> None:
        self.status = "failed"
        self.error = error if not self.error else f"{self.error}; {error}"


class RunSummary(BaseModel):
    run_id: str
    warehouse: str
    catalog: str
    seconds: float
    sources: dict[str, SourceStats]
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def ok(self) -> bool:
        """No source failed (a skipped source is not a failure: its other run is doing the work)."""
        return all(s.status in ("completed", "skipped") for s in self.sources.values())

    def total(self) -> SourceStats:
        total = SourceStats()
        for stats in self.sources.values():
            total.add(stats)
        total.seconds = self.seconds
        return total

    def markdown(self) -> str:
        """The run as a markdown table, one row per source (the same figures as the `runs` view)."""
        when = [t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "" for t in (self.started_at, self.ended_at)]
        lines = [
            f"### Run `{self.run_id}`",
            "",
            f"Warehouse: `{self.warehouse}` · {self.seconds:.1f} s",
            "",
            "| source | status | started | ended | " + " | ".join(COUNTS) + " | seconds | error |",
            "| --- | --- | --- | --- | " + " | ".join("---:" for _ in COUNTS) + " | ---: | --- |",
        ]
        for name, stats in self.sources.items():
            error = (stats.error or "").replace("|", "\\|").replace("\n", " ")
            cells = [name, stats.status, *when, *(str(getattr(stats, c)) for c in COUNTS)]
            lines.append("| " + " | ".join([*cells, f"{stats.seconds:.1f}", error]) + " |")
        return "\n".join(lines) + "\n"
