"""End-to-end ingest benchmark: the pipeline against bare trafilatura on the same pages and cores.

    .venv/bin/python tests/bench/bench_ingest.py [--docs 2000 10000] [--processes N] [--work DIR]

For each size it builds (once, cached in --work) a labelled WARC with ../shared/tools/make_corpus.py, then
1. bare trafilatura: every page read into memory first (not timed), then a multiprocessing.Pool of the same
   number of processes started and `bare_extraction` run with the pipeline's options over every page (timed
   from the pool's start, as the pipeline's own time includes starting its workers);
2. the pipeline: the `ingest` flow in a fresh process on an empty warehouse (WARC reading, extraction,
   dedup, Parquet, views all included), with its process tree's RSS sampled every 0.2 s.
The bare run's process tree is sampled the same way: a sample costs ~2 ms of CPU, which would otherwise
be charged to the pipeline alone (~1 % of its run at 0.1 s). With --repeat N the two alternate N times
and the fastest of each counts: on a shared machine, noise only ever adds time. It also prints the
ratio of the median runs, and the median of paired ratios: with --repeat N a last bare run follows the
last pipeline run, so each pipeline run is compared with the mean of the bare runs on either side of it.
It prints docs/s for both, their ratio, and peak RSS of the ingest process and of its whole process tree.

With --side-by-side the two run at the same time instead, each on one core of its own (Linux CPU
affinity): bare trafilatura with one process, the pipeline with `processes = 1` (its ingest process, Prefect's
temporary server and its worker all on that core). Each pair's ratio is the pipeline's docs/s ÷ bare
trafilatura's over the same minutes, so a change in the machine's speed hits both; the two swap cores
from one repeat to the next. It needs at least two cores, measures no memory, and prints each pair and their
median. On a 2-core VM whose speed drifted by a third within minutes, two identical bare runs side by side
differed by 0.974–1.008.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[2]
MAKE_CORPUS = REPO.parent / "shared" / "tools" / "make_corpus.py"


def build_corpus(docs: int, work: Path) -> Path:
    folder = work / f"corpus-{docs}"
    warc = folder / "corpus.warc.gz"
    if not warc.exists():
        if not MAKE_CORPUS.exists():
            sys.exit(f"error: {MAKE_CORPUS} not found (the benchmark needs ../shared beside the repo)")
        print(f"building a {docs}-document WARC with make_corpus.py ...", flush=True)
        subprocess.run(
            [sys.executable, str(MAKE_CORPUS), "--docs", str(docs), "--out", str(folder)], check=True
        )
    return warc


def read_pages(warc: Path) -> list[tuple[str, bytes]]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    return [
        (r.headers.get("WARC-Target-URI"), r.reader.read())
        for r in ArchiveIterator(str(warc), record_types=WarcRecordType.response, parse_http=True)
    ]


def _bare(item: tuple[str, bytes]) -> int:
    import trafilatura

    result = trafilatura.bare_extraction(
        item[1], url=item[0], include_comments=False, favor_precision=True, with_metadata=True
    )
    return 0 if result is None or not result.text else 1


def bare_trafilatura(
    pages: list[tuple[str, bytes]], processes: int, cpu: int | None = None
) -> tuple[float, int, float]:
    """(seconds, pages with text, peak RSS of this process and its pool in MB). The same RSS sampler
    runs as during the pipeline's run, so that both pay for it (~2 ms of CPU per sample); none when the
    pool is pinned to `cpu` (side by side)."""
    context = multiprocessing.get_context("forkserver")
    sampler = TreeSampler(os.getpid())
    if cpu is None:
        sampler.start()
    pinned = {} if cpu is None else {"initializer": os.sched_setaffinity, "initargs": (0, {cpu})}
    if cpu is not None:  # this thread, and the pool's threads that feed the worker, on that core too
        os.sched_setaffinity(0, {cpu})
    started = time.perf_counter()
    try:
        with context.Pool(processes, **pinned) as pool:
            extracted = sum(pool.imap_unordered(_bare, pages, chunksize=4))
            return time.perf_counter() - started, extracted, sampler.peak_tree / 2**20
    finally:
        sampler.stop.set()
        if sampler.is_alive():
            sampler.join()


class TreeSampler(threading.Thread):
    """Peak RSS of a process and of its whole tree (extraction workers included), every SECONDS."""

    SECONDS = 0.2

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak_main = 0
        self.peak_tree = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                main = self.process.memory_info().rss
                tree = main
                for child in self.process.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        tree += child.memory_info().rss
            except psutil.Error:
                return
            self.peak_main = max(self.peak_main, main)
            self.peak_tree = max(self.peak_tree, tree)
            self.stop.wait(self.SECONDS)


PIPELINE = """
import json, sys
from flows.ingest import ingest
if len(sys.argv) > 2:  # side by side: the temporary server up before the other side starts
    from prefect.server.api.server import SubprocessASGIServer
    SubprocessASGIServer().start()
    print("READY", flush=True)
summary = ingest(sys.argv[1])
print("SUMMARY" + summary.model_dump_json())
"""


def pipeline(
    warc: Path,
    processes: int,
    work: Path,
    near: bool = True,
    identical_pages: int | None = None,
    cpu: int | None = None,
    on_ready: Callable[[], None] | None = None,
) -> dict:
    """One ingest in a fresh process. With `cpu`, that process and its children run on that core only,
    and `on_ready` is called once Prefect's temporary server is up, just before the flow starts."""
    folder = Path(tempfile.mkdtemp(dir=work, prefix="run-"))
    config = folder / "sources.toml"
    identical = "" if identical_pages is None else f"identical_pages = {identical_pages}\n"
    config.write_text(
        f'[warehouse]\npath = "warehouse"\n[extract]\nprocesses = {processes}\n{identical}'
        f"[dedup]\nnear = {'true' if near else 'false'}\n"
        f'[[sources]]\nname = "bench"\nkind = "warc"\npath = "{warc}"\n'
    )
    env = {**os.environ, "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING"}
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", PIPELINE, str(config), *([] if cpu is None else ["ready"])],
        stdout=subprocess.PIPE,
        env=env,
        text=True,
        preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}),
    )
    sampler = TreeSampler(child.pid)
    if cpu is None:
        sampler.start()
    stdout = ""
    for line in child.stdout:
        stdout += line
        if line.startswith("READY") and on_ready is not None:
            on_ready()
    child.wait()
    wall = time.perf_counter() - started
    sampler.stop.set()
    if sampler.is_alive():
        sampler.join()
    if child.returncode != 0:
        sys.exit(f"error: the pipeline exited with {child.returncode}")
    summary = json.loads(next(line for line in stdout.splitlines() if line.startswith("SUMMARY"))[7:])
    shutil.rmtree(folder)
    return {
        "flow_seconds": summary["seconds"],
        "process_seconds": wall,
        "summary": summary,
        "peak_main_mb": sampler.peak_main / 2**20,
        "peak_tree_mb": sampler.peak_tree / 2**20,
    }


def _collect_bare(out: list, pages: list[tuple[str, bytes]], cpu: int) -> None:
    out.append(bare_trafilatura(pages, 1, cpu))


def side_by_side(
    warc: Path, docs: int, work: Path, near: bool, identical_pages: int | None, repeat: int
) -> dict:
    """Bare trafilatura and the pipeline at the same time, one core each, swapping cores each repeat."""
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("error: --side-by-side needs two cores")
    first, second = sorted(os.sched_getaffinity(0))[:2]
    pairs = []
    for index in range(repeat):
        bare_cpu, pipeline_cpu = (first, second) if index % 2 == 0 else (second, first)
        pages = read_pages(warc)
        bare: list[tuple[float, int, float]] = []
        runner = threading.Thread(target=_collect_bare, args=(bare, pages, bare_cpu))
        run = pipeline(warc, 1, work, near, identical_pages, pipeline_cpu, runner.start)
        if runner.ident is None:
            sys.exit("error: the pipeline's process never reported its Prefect server up (READY)")
        runner.join()
        del pages
        pair = {
            "bare_cpu": bare_cpu,
            "bare_s": round(bare[0][0], 2),
            "pipeline_s": round(run["flow_seconds"], 2),
            "ratio": round(bare[0][0] / run["flow_seconds"], 3),
        }
        pairs.append(pair)
        print(json.dumps({"docs": docs, **pair}), flush=True)
    stats = run["summary"]["sources"]["bench"]
    return {
        "docs": docs,
        "pairs": pairs,
        "ratio_median": statistics.median(p["ratio"] for p in pairs),
        "bare_docs_s_median": docs / statistics.median(p["bare_s"] for p in pairs),
        "pipeline_docs_s_median": docs / statistics.median(p["pipeline_s"] for p in pairs),
        "extracted": stats["extracted"],
        "duplicates": stats["duplicates"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--processes", type=int, default=os.cpu_count())
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "corpus-bench")
    parser.add_argument("--repeat", type=int, default=1, help="alternate bare and pipeline runs N times")
    parser.add_argument(
        "--no-near", action="store_true", help="exact dedup only ([dedup] near = false), as before near-dedup"
    )
    parser.add_argument(
        "--identical-pages",
        type=int,
        help="[extract] identical_pages (0: byte-identical copies extracted again, as bare trafilatura does)",
    )
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="bare and pipeline at the same time, one core each (the machine's drift cancels)",
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.side_by_side:
        results = [
            side_by_side(
                build_corpus(docs, args.work),
                docs,
                args.work,
                not args.no_near,
                args.identical_pages,
                args.repeat,
            )
            for docs in args.docs
        ]
        print(
            "\nside by side, one core each; ratio = pipeline docs/s ÷ bare trafilatura docs/s"
            " in the same minutes"
        )
        print(
            f"{'docs':>6} {'pairs':>5} {'bare docs/s':>12} {'pipeline docs/s':>16}"
            f" {'ratios':<40} {'median':>6}"
        )
        for r in results:
            ratios = ", ".join(f"{p['ratio']:.3f}" for p in r["pairs"])
            print(
                f"{r['docs']:>6} {len(r['pairs']):>5} {r['bare_docs_s_median']:>12.1f}"
                f" {r['pipeline_docs_s_median']:>16.1f} {ratios:<40} {r['ratio_median']:>6.3f}"
            )
        return
    rows = []
    for docs in args.docs:
        warc = build_corpus(docs, args.work)
        bare_runs, pipeline_runs = [], []
        for _ in range(args.repeat):  # alternated, so that a slow spell of the machine hits both
            pages = read_pages(warc)
            bare_runs.append(bare_trafilatura(pages, args.processes))
            del pages
            pipeline_runs.append(
                pipeline(warc, args.processes, args.work, not args.no_near, args.identical_pages)
            )
        if args.repeat > 1:  # a bare run after the last pipeline run: every pipeline run between two
            pages = read_pages(warc)
            bare_runs.append(bare_trafilatura(pages, args.processes))
            del pages
        # each pipeline run against the bare runs just before and after it: the machine's drift over a
        # few minutes cancels (its speed was seen to change by a third from one minute to the next)
        paired = [
            statistics.mean(b[0] for b in bare_runs[i : i + 2]) / r["flow_seconds"]
            for i, r in enumerate(pipeline_runs)
        ]
        bare_seconds, bare_extracted, _ = min(bare_runs)
        run = min(pipeline_runs, key=lambda r: r["flow_seconds"])
        stats = run["summary"]["sources"]["bench"]
        row = {
            "docs": docs,
            "bare_docs_s": docs / bare_seconds,
            "pipeline_docs_s": docs / run["flow_seconds"],
            "ratio": bare_seconds / run["flow_seconds"],
            # the same from the median runs: less flattering on a noisy machine, and as telling
            "median_ratio": statistics.median(b[0] for b in bare_runs)
            / statistics.median(r["flow_seconds"] for r in pipeline_runs),
            "paired_ratios": [round(p, 3) for p in paired],
            "paired_ratio_median": statistics.median(paired),
            "process_docs_s": docs / run["process_seconds"],
            "bare_runs_s": [round(b[0], 2) for b in bare_runs],
            "pipeline_runs_s": [round(r["flow_seconds"], 2) for r in pipeline_runs],
            "peak_main_mb": max(r["peak_main_mb"] for r in pipeline_runs),
            "peak_tree_mb": max(r["peak_tree_mb"] for r in pipeline_runs),
            "bare_extracted": bare_extracted,
            "bare_peak_tree_mb": max(b[2] for b in bare_runs),  # the pages held in memory included
            "extracted": stats["extracted"],
            "written": stats["written"],
            "duplicates": stats["duplicates"],
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    print(
        f"\n{args.processes} processes; pipeline = the ingest flow's own wall time (WARC → extract → dedup →"
        " Parquet → views);\nprocess = the whole `python -c ingest(...)` process, Prefect's temporary server"
        " start included."
    )
    print(
        f"{'docs':>6} {'bare docs/s':>12} {'pipeline docs/s':>16} {'ratio':>6} {'median ratio':>12}"
        f" {'paired':>6}"
        f" {'process docs/s':>15}"
        f" {'peak RSS main':>14} {'peak RSS tree':>14}"
    )
    for r in rows:
        print(
            f"{r['docs']:>6} {r['bare_docs_s']:>12.1f} {r['pipeline_docs_s']:>16.1f} {r['ratio']:>6.3f}"
            f" {r['median_ratio']:>12.3f} {r['paired_ratio_median']:>6.3f}"
            f" {r['process_docs_s']:>15.1f} {r['peak_main_mb']:>11.0f} MB {r['peak_tree_mb']:>11.0f} MB"
        )
    if len(rows) > 1:
        print(
            f"peak RSS (main) at {rows[-1]['docs']} ÷ at {rows[0]['docs']}: "
            f"{rows[-1]['peak_main_mb'] / rows[0]['peak_main_mb']:.2f}; "
            f"tree: {rows[-1]['peak_tree_mb'] / rows[0]['peak_tree_mb']:.2f}"
        )


if __name__ == "__main__":
    main()
