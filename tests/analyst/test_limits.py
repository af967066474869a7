"""Queries the user can stop and bound: Ctrl-C (SIGINT) interrupts the running statement at once (exit
130, one line), a statement time limit and a memory limit apply with documented defaults and flags, and
DuckDB spills to a private temporary folder, never beside the warehouse's files. Seen before: a count over
range(1e12) ran 10 minutes through three SIGINTs."""

from __future__ import annotations

import signal
import time

import pytest
from command import corpus, start_corpus
from conftest import Sample

pytestmark = pytest.mark.flow

ENDLESS = "select count(*) from range(1000000000000::bigint) a, range(10) b"


def test_ctrl_c_stops_a_long_query_within_2_s(sample_warehouse: Sample) -> None:
    process = start_corpus("sql", "-c", sample_warehouse.config, ENDLESS)
    try:
        time.sleep(4)  # started, connected, the statement running
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGINT)
        sent = time.monotonic()
        _, stderr = process.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:  # a statement that did not stop would burn a core for the rest of the suite
        if process.poll() is None:
            process.kill()
            process.wait()
    assert took < 2, f"stopped {took:.1f} s after SIGINT"
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["error: interrupted (Ctrl-C): the statement was stopped"], stderr


def test_a_statement_stops_at_its_time_limit(sample_warehouse: Sample) -> None:
    started = time.monotonic()
    done = corpus("sql", "-c", sample_warehouse.config, "--timeout", "1", ENDLESS)
    assert time.monotonic() - started < 15
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1 and "time limit of 1 s" in done.stderr, done.stderr


def test_memory_limit_and_spill_folder(sample_warehouse: Sample) -> None:
    settings = "select current_setting('memory_limit') as m, current_setting('temp_directory') as t"
    done = corpus(
        "sql", "-c", sample_warehouse.config, "--memory-limit", "300MB", "--format", "csv", settings
    )
    assert done.returncode == 0, done.stderr
    memory, spill = done.stdout.splitlines()[1].split(",")
    assert memory in ("286.1 MiB", "300.0 MB"), memory
    assert str(sample_warehouse.folder) not in spill and spill, spill
    default = corpus("sql", "-c", sample_warehouse.config, "--format", "csv", settings)
    assert default.returncode == 0 and default.stdout.splitlines()[1].split(",")[0] != "", default.stderr
    bad = corpus("sql", "-c", sample_warehouse.config, "--memory-limit", "lots", "select 1")
    assert (
        bad.returncode == 2 and "--memory-limit" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    )
