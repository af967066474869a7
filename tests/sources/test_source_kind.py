"""Adding a source kind, as README's "Development" section says: (1) its config class, (2) one module
implementing flows.sources.SourceKind, (3) one registry line each in config.SOURCE_CONFIGS and
sources.KINDS, (4) a test. This file is all four for a test-only kind, `listfile`: a text file naming
local HTML files, one per line, with the URL each was saved from. The module is this file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

import duckdb
import pytest
from sites import make_article, news_page

from flows import config as config_module
from flows import sources
from flows.config import Config, SourceBase
from flows.errors import ConfigError, SourceError
from flows.ingest import ingest
from flows.sources import DiscoverContext, Unit, UnitContext, UnitWork, inputs
from flows.sources.files import FilesItem


# (1) the config class
class ListfileSource(SourceBase):
    kind: Literal["listfile"]
    list: str
    """A text file of "<path> <url>" lines, relative to the config file."""


# (2) the module: discover, prepare, location
FETCHED = False
PRELOAD = False


@dataclass(frozen=True)
class ListfileUnit:
    urls: tuple[str, ...]
    max_bytes: int


def discover(source: ListfileSource, config: Config, context: DiscoverContext) -> list[Unit]:
    listing = Path(config.resolve(source.list))
    try:
        lines = [line.split() for line in listing.read_text().splitlines() if line.strip()]
    except OSError as exc:
        raise SourceError(f"source {source.name!r}: cannot read {listing}: {exc.strerror}") from None
    states = tuple(inputs.current(str(listing.parent / path)) for path, _url in lines)
    urls = tuple(url for _path, url in lines)
    return [Unit(source.name, source.kind, 0, states, ListfileUnit(urls, config.extract.max_bytes))]


def prepare(unit: Unit, context: UnitContext) -> UnitWork:
    spec: ListfileUnit = unit.spec
    # FilesItem maps a path to url_prefix + its path below base_dir: one item per file, its URL as prefix
    return UnitWork(
        [
            FilesItem((path,), str(Path(path).parent), url, spec.max_bytes)
            for path, url in zip(unit.paths, spec.urls, strict=True)
        ]
    )


def location(source: ListfileSource) -> str:
    return source.list


# (3) the registry lines
@pytest.fixture
def listfile_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    # the two registrations a new kind takes (read-only mappings: the test lays a copy over each)
    configs = MappingProxyType({**config_module.SOURCE_CONFIGS, "listfile": ListfileSource})
    monkeypatch.setattr(config_module, "SOURCE_CONFIGS", configs)
    monkeypatch.setattr(sources, "KINDS", MappingProxyType({**sources.KINDS, "listfile": __name__}))


# (4) the test: a real ingest flow over the new kind
@pytest.mark.flow
def test_a_new_kind_is_ingested_end_to_end(listfile_kind: None, tmp_path: Path, make_config) -> None:
    saved = tmp_path / "saved"
    saved.mkdir()
    lines = []
    for seed in (41, 42):
        url = f"https://kind.test/2025/{seed}.html"
        (saved / f"{seed}.html").write_text(news_page(make_article(seed), url))
        lines.append(f"saved/{seed}.html {url.rsplit('/', 1)[0]}/")
    (tmp_path / "pages.txt").write_text("\n".join(lines) + "\n")
    cfg = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "saved"\nkind = "listfile"\nlist = "pages.txt"\n'
    )

    summary = ingest(str(cfg))

    assert summary.ok and summary.sources["saved"].written == 2
    with duckdb.connect(summary.catalog, read_only=True) as con:
        urls = sorted(r[0] for r in con.sql("select url from documents").fetchall())
        assert urls == ["https://kind.test/2025/41.html", "https://kind.test/2025/42.html"]
        assert con.sql("select kind, location from run_sources").fetchall() == [("listfile", "pages.txt")]


@pytest.mark.unit
def test_an_unknown_kind_fails_loudly(tmp_path: Path, make_config) -> None:
    with pytest.raises(ConfigError, match="unknown source kind 'listfile'"):
        sources.kind("listfile")  # not registered outside the fixture: never a silent default
    cfg = make_config('[[sources]]\nname = "s"\nkind = "listfile"\nlist = "pages.txt"\n')
    with pytest.raises(
        ConfigError, match=r"key 'kind': unknown kind 'listfile' \(expected one of: files, warc"
    ):
        config_module.load_config(cfg)
