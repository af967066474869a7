"""The extraction pool: all pages come back, a slow page is cut off at the time limit, a stuck or dead
worker is replaced, and the run goes on."""

from __future__ import annotations

import os
import signal
import threading
import time
from datetime import UTC, datetime

from sites import make_article, news_page

from flows.documents import Page
from flows.extract import ExtractOptions
from flows.extract_pool import ExtractPool

NOW = datetime(2025, 7, 20, tzinfo=UTC)


def pages(count: int, start: int = 0) -> list[Page]:
    return [
        Page(
            f"https://news.test/{i}",
            news_page(make_article(i), f"https://news.test/{i}").encode(),
            NOW,
            f"p{i}",
        )
        for i in range(start, start + count)
    ]


def slow_page() -> Page:
    """A page trafilatura needs seconds for: tens of thousands of paragraphs (~6 MB)."""
    body = "".join(f"<div class='c{i}'><p>{' '.join(['word'] * 40)} {i}</p></div>" for i in range(25_000))
    return Page("https://news.test/slow", f"<html><body>{body}</body></html>".encode(), NOW, "slow")


def test_every_page_comes_back_once() -> None:
    pool = ExtractPool(2, ExtractOptions(), timeout=20)
    try:
        results = list(pool.map(pages(30)))
    finally:
        pool.close()
    assert sorted(r.document["url"] for r in results) == sorted(p.url for p in pages(30))


def test_slow_page_is_rejected_and_the_rest_extracted() -> None:
    pool = ExtractPool(2, ExtractOptions(max_bytes=50_000_000), timeout=0.5)
    try:
        started = time.monotonic()
        results = list(pool.map([*pages(4), slow_page(), *pages(4, start=4)]))
        elapsed = time.monotonic() - started
        workers = [w.process for w in pool._workers]
    finally:
        pool.close()
    rejects = [r.reject for r in results if r.reject]
    assert [(r["url"], r["reason"]) for r in rejects] == [("https://news.test/slow", "extract_timeout")]
    assert sum(1 for r in results if r.document) == 8
    assert elapsed < 10
    assert all(not w.is_alive() for w in workers)  # closed: no worker left behind


def test_stuck_worker_is_killed_and_replaced() -> None:
    """A worker that stops answering (SIGSTOP: not even SIGALRM reaches it) is killed after the hard limit;
    its page is rejected as extract_timeout, the pages queued behind it are re-sent to a new worker."""
    pool = ExtractPool(1, ExtractOptions(), timeout=0.5)
    pool.start()
    original = pool._workers[0].process
    timer = threading.Timer(0.3, lambda: os.kill(original.pid, signal.SIGSTOP))
    try:
        timer.start()
        results = list(pool.map([slow_page(), *pages(5)]))
        replacement = pool._workers[0].process
    finally:
        timer.cancel()
        pool.close()
    assert [r.reject["reason"] for r in results if r.reject] == ["extract_timeout"]
    assert sum(1 for r in results if r.document) == 5
    assert replacement.pid != original.pid
    assert not original.is_alive()


def test_dead_worker_is_replaced() -> None:
    pool = ExtractPool(1, ExtractOptions(max_bytes=50_000_000), timeout=30)
    pool.start()
    victim = pool._workers[0].process
    timer = threading.Timer(0.3, lambda: os.kill(victim.pid, signal.SIGKILL))
    try:
        timer.start()
        results = list(pool.map([slow_page(), *pages(3)]))
    finally:
        timer.cancel()
        pool.close()
    assert [r.reject["reason"] for r in results if r.reject] == ["extract_crash"]
    assert sum(1 for r in results if r.document) == 3
