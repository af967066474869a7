"""Sources say what to ingest. Each kind of source is one module here implementing `SourceKind`:

- `discover(source, config, context)`: list its units. A unit is one Prefect task's worth of input (a
  batch of files, one WARC file, a batch of web pages); discovery must be cheap. Local kinds list only
  the input files new or changed since they were last ingested, unless `context.full` (inputs.py).
- `prepare(unit, context)`: make a unit ready to extract, as work items that extraction workers read by
  themselves (a few files, a byte range of a WARC file), so page bytes never pass through the parent
  process; web kinds fetch their pages into the raw archive first.
- `location(source)`: what the source reads, for the `runs` table.

The module is registered in KINDS (one line), its config class in flows/config.py SOURCE_CONFIGS (one
line). An item streams its pages, so memory stays flat however large a unit is (see records.WorkItem).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, cast

from flows.config import Config, FilterFields, SourceBase
from flows.errors import ConfigError
from flows.fetch import Politeness
from flows.records import FetchRow, RejectRow, WorkItem
from flows.sources.inputs import InputFile

if TYPE_CHECKING:
    from flows.warehouse.store import Warehouse

# Every kind of source: its `kind` value → the module that reads it (imported when first used).
KINDS: Mapping[str, str] = MappingProxyType(
    {
        "files": "flows.sources.files",
        "warc": "flows.sources.warc",
        "feed": "flows.sources.web",
        "sitemap": "flows.sources.web",
        "urls": "flows.sources.web",
    }
)


UNIT_BYTES = (1 << 20, 64 << 20)  # on a cluster, a unit reads 1-64 MB of a large file (DiscoverContext)
UNITS_PER_SLOT = 16  # units per cluster slot: enough that the slots finish together (DiscoverContext)


@dataclass(frozen=True)
class Unit:
    """One task's input: picklable, so that it can travel to a Dask worker. `inputs` are the local
    files it reads, as they were when discovered (none for web kinds); `spec` is the kind's own
    description of the rest (URLs, a URL prefix...)."""

    source: str
    kind: str
    index: int
    inputs: tuple[InputFile, ...]
    spec: Any
    filters: FilterFields = field(default_factory=FilterFields)
    pages: int | None = None  # the pages it will fetch, when its kind knows beforehand (web: its URLs)

    @property
    def label(self) -> str:
        return f"{self.source}#{self.index}"

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(state.path for state in self.inputs)


@dataclass(frozen=True)
class DiscoverContext:
    """What `discover` may use: the warehouse (what was ingested before; None: nothing is known), whether
    to read everything, and the run's politeness (web listings are fetched at the run's pace)."""

    warehouse: Warehouse | None = None
    full: bool = False
    slots: int | None = None  # units go to a cluster with this many task slots (None: this machine)
    politeness: Politeness = field(default_factory=Politeness)

    def unit_bytes(self, total: int) -> int | None:
        """How many bytes of a large file one unit should read: on a cluster, a sixteenth of a slot's
        share of `total` (small enough that the slots finish together, large enough that a unit's
        overhead stays small), within UNIT_BYTES; None on this machine (the extraction pool cuts a
        file into ranges itself)."""
        if self.slots is None:
            return None
        low, high = UNIT_BYTES
        return max(low, min(high, total // (UNITS_PER_SLOT * self.slots)))

    def known_inputs(self, source: str) -> dict[str, dict[str, Any]]:
        """The input files of a source ingested before (path → last `inputs` row); none with `full`."""
        if self.full or self.warehouse is None:
            return {}
        return self.warehouse.read_inputs(source)


@dataclass(frozen=True)
class UnitContext:
    """What `prepare` may use: the run, the warehouse it writes to, and its politeness (web pages are
    fetched at the run's pace, with its robots.txt rules)."""

    run_id: str
    warehouse: Warehouse
    politeness: Politeness = field(default_factory=Politeness)
    fetched: Callable[[int], None] = field(default=lambda count: None)  # told as each page is fetched


@dataclass
class UnitWork:
    """A unit made ready to extract."""

    items: list[WorkItem]
    rejects: list[RejectRow] = field(default_factory=list)  # pages that never reached extraction
    unchanged: int = 0  # web pages fetched again with no change: not extracted
    fetches: list[FetchRow] | None = None  # web: one state row per URL, committed after the documents
    renames: dict[str, str] = field(default_factory=dict)  # local copy → final path of an archive file
    done: Callable[[], None] | None = None  # called once the items are extracted (web: upload the archive)


class SourceKind(Protocol):
    """What a module in KINDS implements."""

    FETCHED: bool  # pages come from the web, through the raw archive (what `corpus reextract` re-reads)
    PRELOAD: bool  # extraction workers import the module up front (its work items are read there)

    def discover(self, source: Any, config: Config, context: DiscoverContext) -> list[Unit]: ...

    def prepare(self, unit: Unit, context: UnitContext) -> UnitWork: ...

    def location(self, source: Any) -> str: ...


def kind(name: str) -> SourceKind:
    """The module of a kind of source; an unknown kind is an error, never a default."""
    module = KINDS.get(name)
    if module is None:
        raise ConfigError(f"unknown source kind {name!r} (known: {', '.join(KINDS)})")
    return cast(SourceKind, importlib.import_module(module))


def discover(source: SourceBase, config: Config, context: DiscoverContext | None = None) -> list[Unit]:
    return kind(source.kind).discover(source, config, context or DiscoverContext())


def fetched_sources(config: Config, names: list[str] | None) -> list[SourceBase]:
    """The sources whose pages come from the web (what `corpus reextract` reads again from the raw
    archive): the named ones, each of which must be one, else every enabled one."""
    selected = [s for s in config.select(names) if kind(s.kind).FETCHED]
    if names and len(selected) < len(names):
        other = next(n for n in names if n not in {s.name for s in selected})
        raise ConfigError(
            f"source {other!r} is not a web source (feed, sitemap, urls): run `corpus ingest` for it"
        )
    return selected


def location(source: SourceBase) -> str:
    """What the source reads, for the runs table."""
    return kind(source.kind).location(source)


def preload_modules() -> list[str]:
    """Modules the extraction workers import before they start (the readers of local kinds)."""
    return sorted({module for name, module in KINDS.items() if kind(name).PRELOAD})
