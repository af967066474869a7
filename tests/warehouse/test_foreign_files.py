"""The warehouse reads only what it wrote. Parquet files dropped into the table folders by anyone else (a
file of another schema, a damaged one, one forged with the tables' column names and the wrong types, one
written by `corpus sql --output` before it refused such paths) are left out of every view, of search,
of dedup and of compaction; each is named once, in one line, and `corpus stats` lists them."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from command import SAMPLE_SOURCE, corpus

pytestmark = pytest.mark.flow

FOLDERS = [  # one folder of each table
    "documents/source=sample/month=2025-07",
    "rejects/source=sample",
    "runs",
    "signatures/source=sample",
    "inputs/source=sample",
    "fetches/source=sample",
]
COUNTS = (
    "select (select count(*) from documents), (select count(*) from rejects), (select count(*) from runs), "
)
COUNTS += "(select count(*) from inputs), (select count(*) from fetch_state), (select count(*) from articles)"


def drop_foreign_files(warehouse: Path) -> list[Path]:
    dropped = []
    other = pa.table({"x": [1, 2, 3]})
    forged = pa.table(
        {"doc_id": [1], "url": [2], "source": [3], "run_id": [4], "path": [5], "reason": [6], "status": [7]}
    ).replace_schema_metadata({b"corpus.schema_version": b"2"})
    for folder in FOLDERS:
        target = warehouse / folder
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(other, target / "part-foreign.parquet")
        (target / "part-corrupt.parquet").write_bytes(b"PAR1" + os.urandom(300))
        pq.write_table(forged, target / "part-zz.parquet")
        dropped += [
            target / "part-foreign.parquet",
            target / "part-corrupt.parquet",
            target / "part-zz.parquet",
        ]
    return dropped


def test_foreign_corrupt_and_forged_files_change_nothing(tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text(f'[warehouse]\npath = "wh"\n{SAMPLE_SOURCE}')
    assert corpus("ingest", "-c", config).returncode == 0
    before = corpus("sql", "-c", config, "--format", "csv", COUNTS)
    assert before.returncode == 0, before.stderr
    dropped = drop_foreign_files(tmp_path / "wh")

    first = corpus("sql", "-c", config, "--format", "csv", COUNTS)
    assert first.returncode == 0, first.stderr
    assert first.stdout == before.stdout  # the views are as they were
    for path in dropped:  # each named once, in one line
        relative = str(path.relative_to(tmp_path / "wh"))
        assert sum(relative in line for line in first.stderr.splitlines()) == 1, (relative, first.stderr)
    assert "Traceback" not in first.stderr
    again = corpus("sql", "-c", config, "--format", "csv", COUNTS)
    assert again.stdout == before.stdout and not again.stderr.strip(), again.stderr  # named once only

    stats = corpus("stats", "-c", config)
    assert stats.returncode == 0, stats.stderr
    assert all(str(p.relative_to(tmp_path / "wh")) in stats.stdout for p in dropped), stats.stdout

    found = corpus("search", "-c", config, "taliban")
    assert found.returncode == 0 and "0 results" not in found.stdout, found.stderr

    rerun = corpus("ingest", "--full", "-c", config)  # every page again: dedup reads the signatures folder
    assert rerun.returncode == 0, rerun.stderr + rerun.stdout
    assert "Traceback" not in rerun.stderr
    compacted = corpus("compact", "-c", config)
    assert compacted.returncode == 0, compacted.stderr
    assert all(path.exists() for path in dropped)  # left where they were, never merged
    after = corpus("sql", "-c", config, "--format", "csv", COUNTS)
    assert (
        after.returncode == 0
        and after.stdout.splitlines()[1].split(",")[0] == before.stdout.splitlines()[1].split(",")[0]
    )
