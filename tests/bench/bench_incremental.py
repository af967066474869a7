"""Incremental WARC sources: what a scheduled run over a folder of WARC files costs when nothing changed,
and when a crawler dropped one new file into it.

Builds (once, cached in --work) a labelled WARC of --docs documents and a second one of --new documents
with ../shared/tools/make_corpus.py (another seed), then, in a fresh warehouse:

  1. first run:  the folder holds the big WARC (every page extracted);
  2. re-run:     nothing changed (no file is read: the warehouse remembers it in `inputs`);
  3. new file:   the small WARC is added to the folder (only its pages are read);
  4. re-run:     nothing changed again; `rejects` keeps its row count throughout.

Prints each run's wall time (the `ingest` flow's own, from the summary), pages seen, and the ratios of
runs 2-4 to run 1. Needs ../shared beside the repo.

    .venv/bin/python tests/bench/bench_incremental.py --docs 10000 --new 500
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
MAKE_CORPUS = REPO.parent / "shared" / "tools" / "make_corpus.py"


def build(docs: int, seed: int, work: Path) -> Path:
    folder = work / f"corpus-{docs}-seed{seed}"
    warc = folder / "corpus.warc.gz"
    if not warc.exists():
        if not MAKE_CORPUS.exists():
            sys.exit(f"error: {MAKE_CORPUS} not found (the benchmark needs ../shared beside the repo)")
        print(f"building a {docs}-document WARC (seed {seed}) with make_corpus.py ...", flush=True)
        command = [
            sys.executable,
            str(MAKE_CORPUS),
            "--docs",
            str(docs),
            "--out",
            str(folder),
            "--seed",
            str(seed),
        ]
        subprocess.run(command, check=True)
    return warc


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=10_000, help="documents in the first WARC")
    parser.add_argument("--new", type=int, default=500, help="documents in the WARC added later")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "corpus-bench")
    args = parser.parse_args()
    big = build(args.docs, 1, args.work)
    small = build(args.new, 2, args.work)

    from flows.ingest import ingest

    run_dir = Path(tempfile.mkdtemp(prefix="bench-incremental-"))
    try:
        folder = run_dir / "crawl"
        folder.mkdir()
        shutil.copy(big, folder / "big.warc.gz")
        config = run_dir / "sources.toml"
        config.write_text(
            '[warehouse]\npath = "wh"\n[[sources]]\nname = "crawl"\nkind = "warc"\npath = "crawl/*.warc.gz"\n'
        )
        rows = []

        def run(label: str) -> float:
            started = time.monotonic()
            summary = ingest(str(config))
            wall = time.monotonic() - started
            stats = summary.sources["crawl"]
            with duckdb.connect(summary.catalog, read_only=True) as con:
                rejects = con.sql("select count(*) from rejects").fetchone()[0]
            rows.append((label, summary.seconds, wall, stats.seen, stats.written, rejects))
            print(
                f"  {label:<10} {summary.seconds:8.2f} s (flow)  {wall:8.2f} s (call)  seen {stats.seen:>6}  "
                f"written {stats.written:>6}  rejects rows {rejects}",
                flush=True,
            )
            return summary.seconds

        first = run("first")
        rerun = run("unchanged")
        shutil.copy(small, folder / "new.warc.gz")
        added = run("new file")
        rerun2 = run("unchanged")
        print()
        print(
            f"docs {args.docs}: unchanged re-run / first run = {rerun / first:.3f} "
            f"({rerun:.2f} s of {first:.2f} s); again after the new file: {rerun2 / first:.3f}"
        )
        print(
            f"new file of {args.new} docs: {added:.2f} s = {added / first:.3f} of the first run "
            f"(its share of the pages: {args.new / args.docs:.3f})"
        )
        print(f"rejects rows per run: {[r[5] for r in rows]}")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
