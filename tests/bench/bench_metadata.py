"""Extraction speed with metadata, side by side: the pipeline's extraction of a page (text, the declared
metadata first and trafilatura's heuristics only for what is missing, language, hashes, word count) against
bare trafilatura `bare_extraction(..., with_metadata=True)`, and against `trafilatura.extract()` without
metadata, on the 181 pages of ../shared/bench/article-extraction-benchmark.

    .venv/bin/python tests/bench/bench_metadata.py [--bench DIR] [--rounds 2] [--passes 2]

Each comparison runs both sides at the same time, each pinned to a core of its own, then again with the
cores swapped (this VM's cores differ and drift); each side's rate is its pages over its CPU-pinned wall
time summed over both placements. Ratio = pipeline pages/s ÷ the other's pages/s (> 1: the pipeline is
faster). Needs two cores.
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def load(bench: Path) -> list[tuple[str, bytes]]:
    truth = json.loads((bench / "ground-truth.json").read_text())
    return [
        (truth[key]["url"], gzip.decompress((bench / "html" / f"{key}.html.gz").read_bytes()))
        for key in sorted(truth)
    ]


def _pipeline(pages: list[tuple[str, bytes]]) -> None:
    from flows.config import ExtractConfig
    from flows.extract.options import ExtractOptions
    from flows.extract.page import extract_page
    from flows.records import Page

    options = ExtractOptions.of(ExtractConfig())
    now = datetime.now(UTC)
    for url, html in pages:
        extract_page(Page(url, html, now, url), options)


def _bare_metadata(pages: list[tuple[str, bytes]]) -> None:
    from trafilatura import bare_extraction

    for url, html in pages:
        bare_extraction(html, url=url, include_comments=False, favor_precision=True, with_metadata=True)


def _extract_plain(pages: list[tuple[str, bytes]]) -> None:
    from trafilatura import extract

    for url, html in pages:
        extract(html, url=url, include_comments=False, favor_precision=True, with_metadata=False)


SIDES = {
    "pipeline": _pipeline,
    "bare_extraction+metadata": _bare_metadata,
    "extract() no metadata": _extract_plain,
}


def _side(name: str, cpu: int, pages: list[tuple[str, bytes]], passes: int, start, out) -> None:
    os.sched_setaffinity(0, {cpu})
    run = SIDES[name]
    run(pages[:5])  # warm: imports, models, caches
    start.wait()
    began = time.perf_counter()
    for _ in range(passes):
        run(pages)
    out.put((name, len(pages) * passes, time.perf_counter() - began))


def side_by_side(a: str, b: str, pages: list[tuple[str, bytes]], rounds: int, passes: int) -> float:
    context = multiprocessing.get_context("fork")
    totals = {a: [0, 0.0], b: [0, 0.0]}
    for round_ in range(rounds):
        for cpus in ((0, 1), (1, 0)):
            start, out = context.Barrier(2), context.Queue()
            workers = [
                context.Process(target=_side, args=(name, cpu, pages, passes, start, out))
                for name, cpu in zip((a, b), cpus, strict=True)
            ]
            for worker in workers:
                worker.start()
            results = [out.get() for _ in workers]
            for worker in workers:
                worker.join()
            for name, count, seconds in results:
                totals[name][0] += count
                totals[name][1] += seconds
                print(
                    f"  round {round_ + 1}, cpus {cpus}: {name:26} {count / seconds:6.1f} pages/s", flush=True
                )
    rate = {name: count / seconds for name, (count, seconds) in totals.items()}
    ratio = rate[a] / rate[b]
    print(f"{a}: {rate[a]:.1f} pages/s, {b}: {rate[b]:.1f} pages/s, ratio {ratio:.3f}\n", flush=True)
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bench", type=Path, default=REPO.parent / "shared/bench/article-extraction-benchmark"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--passes", type=int, default=2, help="passes over the pages per placement")
    args = parser.parse_args()
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("error: side by side needs two cores")
    if not (args.bench / "ground-truth.json").exists():
        sys.exit(f"error: {args.bench} not found (the benchmark needs ../shared beside the repo)")
    pages = load(args.bench)
    print(
        f"{len(pages)} pages, one core each, {args.rounds} rounds × both placements × {args.passes} passes\n"
    )
    with_metadata = side_by_side("pipeline", "bare_extraction+metadata", pages, args.rounds, args.passes)
    plain = side_by_side("pipeline", "extract() no metadata", pages, args.rounds, args.passes)
    print(f"pipeline ÷ bare_extraction(with_metadata=True): {with_metadata:.3f}")
    print(f"pipeline ÷ extract() without metadata:          {plain:.3f}")


if __name__ == "__main__":
    main()
