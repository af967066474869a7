"""HTML files (.html, .htm, optionally gzipped) matched by a glob: local, or on object storage."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from flows.config import Config, FilesSource
from flows.errors import SourceError
from flows.fetch.decoding import BadEncoding, TooLarge, inflate
from flows.records import Extracted, Page, rejected
from flows.sources import DiscoverContext, Unit, UnitContext, UnitWork, inputs, storage

FETCHED = False
PRELOAD = True
SUFFIXES = (".html", ".htm", ".xhtml", ".html.gz", ".htm.gz")


def discover(source: FilesSource, config: Config, context: DiscoverContext) -> list[Unit]:
    pattern = config.resolve(source.path)
    found = [f for f in storage.list_files(pattern) if f.path.lower().endswith(SUFFIXES)]
    if not found:
        raise SourceError(f"source {source.name!r}: no .html/.htm/.html.gz files match {pattern!r}")
    states = inputs.to_read(found, context.known_inputs(source.name), context.full)
    size = config.runner.batch_size
    base = storage.glob_base(pattern)
    return [
        Unit(
            source=source.name,
            kind=source.kind,
            index=i // size,
            inputs=tuple(states[i : i + size]),
            spec=FilesUnit(base, source.url_prefix, config.extract.max_bytes),
        )
        for i in range(0, len(states), size)
    ]


def location(source: FilesSource) -> str:
    return source.path


@dataclass(frozen=True)
class FilesUnit:
    base_dir: str  # file URLs are made relative to it (url_prefix)
    url_prefix: str | None
    max_bytes: int


def file_url(path: str, base_dir: str, url_prefix: str | None) -> str:
    if url_prefix:
        relative = storage.relative(path, base_dir)
        if relative.endswith(".gz"):
            relative = relative[:-3]
        prefix = url_prefix if url_prefix.endswith("/") else url_prefix + "/"
        return prefix + relative
    return path if storage.is_remote(path) else Path(path).as_uri()


ITEM_FILES = 8  # files a worker reads per work item


@dataclass(frozen=True)
class FilesItem:
    paths: tuple[str, ...]
    base_dir: str
    url_prefix: str | None
    max_bytes: int

    def pages(self) -> Iterator[Page | Extracted]:
        for path in self.paths:
            yield read_file(path, file_url(path, self.base_dir, self.url_prefix), self.max_bytes)

    def resume_after(self, origin: str) -> FilesItem | None:
        rest = self.paths[self.paths.index(origin) + 1 :] if origin in self.paths else ()
        return FilesItem(rest, self.base_dir, self.url_prefix, self.max_bytes) if rest else None


def prepare(unit: Unit, context: UnitContext) -> UnitWork:
    spec: FilesUnit = unit.spec
    return UnitWork(
        [
            FilesItem(unit.paths[i : i + ITEM_FILES], spec.base_dir, spec.url_prefix, spec.max_bytes)
            for i in range(0, len(unit.paths), ITEM_FILES)
        ]
    )


def read_file(path: str, url: str, max_bytes: int) -> Page | Extracted:
    page = Page(url=url, html=b"", fetched_at=datetime.now(UTC), origin=path)
    try:
        with storage.open_input(path) as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            size = storage.size(path)
            return rejected(page, "too_large", f"{size} bytes > max_bytes {max_bytes}")
        if path.lower().endswith(".gz"):
            data = inflate(data, max_bytes)
    except TooLarge as exc:
        return rejected(page, "too_large", str(exc))
    except (OSError, BadEncoding) as exc:
        return rejected(page, "unreadable", f"{path}: {exc}")
    page.html = data
    return page
