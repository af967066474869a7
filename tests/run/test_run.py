"""A run owns what it uses: two runs in one process (as a `corpus serve` process or a notebook runs many)
share nothing by accident: not the pace kept with a host, not its robots.txt rules, not the progress
watcher, not the extraction pool."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import pytest
from command import SAMPLE_SOURCE
from web_site import SiteServer

from flows.fetch import Politeness
from flows.ingest import ingest
from flows.run.progress import watching

DELAY = 6.0  # seconds between two requests to one host, within a run


def web_config(folder: Path, name: str, url: str) -> Path:
    config = folder / f"{name}.toml"
    config.write_text(
        f'[warehouse]\npath = "wh-{name}"\n[[sources]]\nname = "{name}"\nkind = "urls"\nurls = ["{url}"]\n'
        f"allow_private = true\ndelay = {DELAY}\n"
    )
    return config


@pytest.mark.flow
def test_two_runs_in_one_process_keep_their_own_pace_and_robots_rules(tmp_path: Path) -> None:
    """Two web sources on one host, one run after the other in this process. Each run asks for robots.txt
    (its own rules) and paces its own requests: the second run's first request does not wait for the
    slot the first run had reserved for its next request (DELAY after its last one)."""
    with SiteServer() as site:
        first = ingest(str(web_config(tmp_path, "first", site.article_url(0))))
        second = ingest(str(web_config(tmp_path, "second", site.article_url(1))))
        requests = sorted(site.requests, key=lambda r: r.at)
    assert first.sources["first"].written == 1 and second.sources["second"].written == 1
    assert [r.path for r in requests] == ["/robots.txt", "/news/a0.html", "/robots.txt", "/news/a1.html"]
    within_first, between, within_second = (b.at - a.at for a, b in itertools.pairwise(requests))
    assert within_first >= DELAY * 0.8 and within_second >= DELAY * 0.8  # each run keeps its pace
    assert between < DELAY * 0.8, f"the second run waited {between:.1f} s for the first run's slot"


class Watcher:
    def __init__(self) -> None:
        self.sources: set[str] = set()
        self.pages = 0

    def source_started(self, source: str, total_units: int, total_pages: int | None) -> None:
        self.sources.add(source)

    def pages_fetched(self, source: str, count: int) -> None:
        pass

    def pages_done(self, source: str, count: int) -> None:
        self.pages += count

    def unit_done(self, source: str) -> None:
        self.sources.add(source)

    def note(self, message: str) -> None:
        pass


@pytest.mark.flow
def test_two_runs_at_once_report_to_their_own_watchers(tmp_path: Path) -> None:
    """Two runs in two threads of one process, each begun under a watcher of its own (as two CLI progress
    bars would be): each watcher hears of its own run's source only."""
    configs = {}
    for name in ("left", "right"):
        configs[name] = tmp_path / f"{name}.toml"
        configs[name].write_text(
            f'[warehouse]\npath = "wh-{name}"\n'
            + SAMPLE_SOURCE.replace('name = "sample"', f'name = "{name}"')
        )
    watchers = {name: Watcher() for name in configs}
    results = {}

    def run(name: str) -> None:
        with watching(watchers[name]):
            results[name] = ingest(str(configs[name]))

    threads = [threading.Thread(target=run, args=(name,)) for name in configs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    assert all(results[name].ok for name in configs), results
    for name, watcher in watchers.items():
        assert watcher.sources == {name}, (name, watcher.sources)
        assert watcher.pages == results[name].sources[name].seen


@pytest.mark.unit
def test_politeness_objects_share_no_slot_and_no_rules() -> None:
    one, other = Politeness(), Politeness()
    start = one.pacer.reserve("host.test", 30.0)
    assert one.pacer.reserve("host.test", 30.0) >= start + 30.0  # the same run waits its turn
    assert other.pacer.reserve("host.test", 30.0) < start + 1.0  # another run does not
    assert one.robots is not other.robots
