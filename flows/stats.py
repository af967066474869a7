"""Counts a run keeps per source, in the order pages pass the stages."""

from __future__ import annotations

from pydantic import BaseModel


class SourceStats(BaseModel):
    seen: int = 0  # pages read from the source
    extracted: int = 0  # pages that yielded a main text
    duplicates: int = 0  # extracted texts already in the corpus (same page, or same text elsewhere)
    rejected: int = 0  # pages with no usable text, with a reason in `rejects`
    written: int = 0  # rows added to `documents` (new articles, and copies found under new URLs)
    unchanged: int = 0  # web pages fetched again with no change (304, or the same body): not extracted
    seconds: float = 0.0
    status: str = "completed"  # completed, failed
    error: str | None = None

    def add(self, other: SourceStats) -> None:
        for name in ("seen", "extracted", "duplicates", "rejected", "written", "unchanged"):
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

    @property
    def ok(self) -> bool:
        return all(s.status == "completed" for s in self.sources.values())

    def total(self) -> SourceStats:
        total = SourceStats()
        for stats in self.sources.values():
            total.add(stats)
        total.seconds = self.seconds
        return total
