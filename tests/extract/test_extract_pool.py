"""The extraction pool: all pages come back, a slow page is cut off at the time limit, a stuck or dead
worker is replaced and the pages behind the bad one are still read, and the run goes on; outcomes come
in the order of the items."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from sites import make_article, news_page

from flows.extract.options import ExtractOptions
from flows.extract.pool import ExtractPool
from flows.sources.files import FilesItem

pytestmark = pytest.mark.unit

MAX = 50_000_000


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def page_files(folder: Path, count: int, start: int = 0) -> list[str]:
    paths = []
    for i in range(start, start + count):
        path = folder / f"page-{i}.html"
        path.write_text(news_page(make_article(i), f"https://news.test/{i}"))
        paths.append(str(path))
    return paths


def slow_file(folder: Path) -> str:
    """A page trafilatura needs seconds for: tens of thousands of paragraphs (~6 MB)."""
    body = "".join(f"<div class='c{i}'><p>{' '.join(['word'] * 40)} {i}</p></div>" for i in range(25_000))
    path = folder / "slow.html"
    path.write_text(f"<html><body>{body}</body></html>")
    return str(path)


def items(paths: list[str], per_item: int = 4) -> list[FilesItem]:
    return [
        FilesItem(tuple(paths[i : i + per_item]), "/", "https://x.test/", MAX)
        for i in range(0, len(paths), per_item)
    ]


def test_every_page_comes_back_once(folder: Path) -> None:
    paths = page_files(folder, 30)
    pool = ExtractPool(2, ExtractOptions(), timeout=20)
    try:
        results = list(pool.map(items(paths)))
    finally:
        pool.close()
    assert sorted(r.document["origin"] for r in results) == sorted(paths)


def test_slow_page_is_rejected_and_the_rest_extracted(folder: Path) -> None:
    paths = [*page_files(folder, 4), slow_file(folder), *page_files(folder, 4, start=4)]
    pool = ExtractPool(2, ExtractOptions(max_bytes=MAX), timeout=0.5)
    try:
        started = time.monotonic()
        results = list(pool.map(items(paths, per_item=3)))
        elapsed = time.monotonic() - started
        workers = [w.process for w in pool._workers]
    finally:
        pool.close()
    rejects = [r.reject for r in results if r.reject]
    assert [(r["url"].rsplit("/", 1)[1], r["reason"]) for r in rejects] == [("slow.html", "extract_timeout")]
    assert sum(1 for r in results if r.document) == 8
    assert elapsed < 10
    assert all(not w.is_alive() for w in workers)  # closed: no worker left behind


def test_stuck_worker_is_killed_and_replaced(folder: Path) -> None:
    """A worker that stops answering (SIGSTOP: not even SIGALRM reaches it) is killed after the hard limit;
    its page is rejected as extract_timeout; the rest of its item and the items queued behind it are
    re-sent to a new worker."""
    paths = [slow_file(folder), *page_files(folder, 5)]
    pool = ExtractPool(1, ExtractOptions(max_bytes=MAX), timeout=0.5)
    pool.start()
    worker = pool._workers[0]
    original = worker.process

    def stop_on_the_slow_page() -> None:  # not after a fixed time: a loaded machine starts it later
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page = worker.slot.page()
            if page is not None and page.url.endswith("slow.html"):
                os.kill(original.pid, signal.SIGSTOP)
                return
            time.sleep(0.01)

    stopper = threading.Thread(target=stop_on_the_slow_page, daemon=True)
    try:
        stopper.start()
        results = list(pool.map(items(paths, per_item=3)))
        replacement = pool._workers[0].process
    finally:
        stopper.join(5)
        pool.close()
    assert [(r.reject["url"].rsplit("/", 1)[1], r.reject["reason"]) for r in results if r.reject] == [
        ("slow.html", "extract_timeout")
    ]  # the page it was on, as the worker noted it in shared memory
    assert sum(1 for r in results if r.document) == 5
    assert replacement.pid != original.pid
    assert not original.is_alive()


def test_dead_worker_is_replaced(folder: Path) -> None:
    paths = [slow_file(folder), *page_files(folder, 3)]
    pool = ExtractPool(1, ExtractOptions(max_bytes=MAX), timeout=30)
    pool.start()
    worker = pool._workers[0]

    def kill_once_on_the_slow_page() -> None:  # not after a fixed time: a loaded machine starts it later
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page = worker.slot.page()
            if page is not None and page.url.endswith("slow.html"):
                os.kill(worker.process.pid, signal.SIGKILL)
                return
            time.sleep(0.01)

    killer = threading.Thread(target=kill_once_on_the_slow_page, daemon=True)
    try:
        killer.start()
        results = list(pool.map(items(paths, per_item=2)))
    finally:
        killer.join(5)
        pool.close()
    assert [(r.reject["url"].rsplit("/", 1)[1], r.reject["reason"]) for r in results if r.reject] == [
        ("slow.html", "extract_crash")
    ]
    assert sum(1 for r in results if r.document) == 3


def test_page_slot_holds_the_page_begun_and_is_empty_after_it() -> None:
    from datetime import UTC, datetime

    from flows.extract.pool import PageSlot
    from flows.records import Page

    slot = PageSlot(multiprocessing.get_context("forkserver"))
    assert slot.page() is None
    now = datetime.now(UTC)
    slot.begin(Page("https://news.test/a", b"<html>", now, "/data/a.warc.gz#1234"))
    assert (slot.page().url, slot.page().origin, slot.page().fetched_at) == (
        "https://news.test/a",
        "/data/a.warc.gz#1234",
        now,
    )
    slot.begin(Page("https://news.test/" + "x" * 50_000, b"", now, "/data/a.warc.gz#99"))
    assert slot.page().url == ("https://news.test/" + "x" * 50_000)[:2048]  # a huge URL: its start
    assert slot.page().origin == "/data/a.warc.gz#99"
    slot.end()
    assert slot.page() is None


def test_input_end_is_announced_once_with_pages_still_to_come(folder: Path) -> None:
    """on_input_end fires once, after the last item went to a worker and before its pages come back, so
    the caller can commit what it holds while the workers finish."""
    paths = page_files(folder, 24)
    sent: list[int] = []
    ended_at: list[int] = []
    work = items(paths, per_item=2)

    def counting():
        for item in work:
            sent.append(1)
            yield item

    pool = ExtractPool(2, ExtractOptions(), timeout=20)
    results = []
    try:
        for outcome in pool.map(counting(), on_input_end=lambda: ended_at.append(len(results))):
            results.append(outcome)
    finally:
        pool.close()
    assert len(results) == 24 and len(sent) == len(work)
    assert len(ended_at) == 1
    assert ended_at[0] < 24  # pages were still to come


@pytest.mark.parametrize("processes", [1, 3])
def test_outcomes_come_in_the_order_of_the_items_whatever_finishes_first(
    folder: Path, processes: int
) -> None:
    """The first item holds a page that takes seconds: the items behind it finish first on the other
    workers, yet every outcome comes out in item order, with one process or several."""
    paths = [slow_file(folder), *page_files(folder, 20)]
    pool = ExtractPool(processes, ExtractOptions(), timeout=60)
    try:
        origins = [outcome.document["origin"] for outcome in pool.map(items(paths, per_item=2))]
    finally:
        pool.close()
    assert origins == paths


def test_a_file_gone_before_it_is_read_is_named_once_in_one_short_line(folder: Path) -> None:
    """Every byte range of a WARC file deleted after discovery fails alike: each error names the file and
    why (not the work item's repr), and the unit's error says it once."""
    from flows.extract.pool import ReadError
    from flows.records import one_line
    from flows.sources.warc import WarcSlice

    gone = str(folder / "gone.warc.gz")
    slices = [WarcSlice(gone, start, start + 1000, MAX) for start in range(0, 30_000, 1000)]
    pool = ExtractPool(2, ExtractOptions(), timeout=20)
    try:
        errors = [r for r in pool.map(slices) if isinstance(r, ReadError)]
    finally:
        pool.close()
    assert len(errors) == 30 and {e.path for e in errors} == {gone}
    assert errors[0].message == f"{gone}: No such file or directory"
    assert one_line([e.message for e in errors]) == errors[0].message
    many = one_line([f"e{i}" for i in range(5)] * 2)
    assert many == "e0; e1; e2; and 2 more"


def test_workers_of_a_killed_parent_exit_without_a_traceback(folder: Path) -> None:
    """The parent killed (SIGKILL, the OOM killer) while its workers extract: each finds its pipe broken
    and exits quietly, instead of printing a traceback per worker into the user's terminal."""
    import subprocess
    import sys

    paths = page_files(folder, 40)
    script = (
        "import os, signal, sys\n"
        "from flows.extract.options import ExtractOptions\n"
        "from flows.extract.pool import ExtractPool\n"
        "from flows.sources.files import FilesItem\n"
        f"paths = {paths!r}\n"
        "items = [FilesItem((p,), '/', 'https://x.test/', 50_000_000) for p in paths]\n"
        "for _ in ExtractPool(2, ExtractOptions(), timeout=20).map(items):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)  # with the workers busy on the pages queued to them\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == -signal.SIGKILL
    assert "Traceback" not in done.stderr, done.stderr
