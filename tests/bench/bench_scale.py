"""Scaling study (docs/scaling.md): what a run costs as the warehouse grows, and what a backfill costs as it
gets longer.

    .venv/bin/python tests/bench/bench_scale.py --sizes 0 1000000 10000000 --runs 3
    .venv/bin/python tests/bench/bench_scale.py --sizes --backfill 1000 10000 100000
    .venv/bin/python tests/bench/bench_scale.py --sizes --backfill 10000 100000 --side-by-side
    .venv/bin/python tests/bench/bench_scale.py --sizes 0 1000000 --committer 20000

1. --sizes: synthetic warehouses of that many stored documents (cached in --work): documents in files of
   100,000 rows (as compaction leaves them) with random content hashes, signatures of 48 random band hashes
   and 20 paragraph hashes each (texts are a few words: with random bands no new page is ever a candidate
   of them, so no text is read back). The first ingest into each migrates it (builds its dedup index from
   the Parquet files): timed and reported once. Then `corpus ingest` of 10 new HTML pages into each size,
   --runs times, the sizes alternating within each round (so that a slow minute hits every size alike):
   wall time of the command and peak RSS of its process tree (sampled every 20 ms), median per size and the
   difference to the empty warehouse. Runs report to a Prefect server the benchmark starts (its start-up
   is not the warehouse's), unless --temporary-server.
2. --backfill: make_corpus.py WARCs of that many pages (../shared/tools, cached in --work), each ingested
   into an empty warehouse: pages/s (from the flow's own seconds) and peak RSS; ratios to the first size.
   With --side-by-side (two sizes): the larger one is ingested on one core (`processes = 1`, the ingest
   process and its worker pinned there) while the smaller one is ingested again and again on the other,
   into a new warehouse each time, until the larger one ends: the ratio compares the larger run's pages/s
   with the mean of the smaller runs that ran wholly beside it, so a change in the machine's speed over
   the long run hits both sizes (two runs minutes apart differ by up to 10 % here). No memory figures.
3. --committer N: the commit step alone (Deduplicator: refresh, classify, record) for N synthetic
   documents with random bands, in chunks of 500, against each --sizes warehouse's index: docs/s.
   Index bytes per stored document (the SQLite file over the documents) are printed with it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.compute

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

CORPUS = str(REPO / ".venv" / "bin" / "corpus")
FILE_ROWS = 100_000
PARAGRAPHS = 20


def hex_ids(values: np.ndarray) -> pa.Array:
    """uint64 values as 16-digit lower-case hex strings (numpy, no Python string per value)."""
    shifts = np.arange(15, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = (values[:, None] >> shifts) & np.uint64(15)
    chars = np.frombuffer(b"0123456789abcdef", np.uint8)[nibbles.astype(np.int64)]
    return pa.array(chars.view("S16").ravel().astype(str))


def hex_hashes(rng: np.random.Generator, count: int) -> pa.Array:
    """Random 128-bit hashes as 32 hex digits, as content hashes are (all 128 bits random: the index keys a
    text by its first 64)."""
    high = hex_ids(rng.integers(0, 2**64, count, dtype=np.uint64))
    low = hex_ids(rng.integers(0, 2**64, count, dtype=np.uint64))
    return pa.compute.binary_join_element_wise(high, low, "")


def synthetic(work: Path, count: int) -> Path:
    """A warehouse of `count` stored documents (see the module's docstring), written once."""
    from flows.config import DedupConfig
    from flows.warehouse import Warehouse
    from flows.warehouse.tables import DOCUMENT_SCHEMA, SCHEMA_VERSION, SIGNATURE_SCHEMA

    root = work / f"synthetic-{count}-v2"  # v2: content hashes random in all their 128 bits
    done = root / ".written"
    if done.exists() or count == 0:
        root.mkdir(parents=True, exist_ok=True)
        return root
    print(f"writing a synthetic warehouse of {count:,} documents in {root} ...", flush=True)
    warehouse = Warehouse(str(root))
    rng = np.random.default_rng(count)
    width = DedupConfig().all_bands
    started = time.monotonic()
    for number, start in enumerate(range(0, count, FILE_ROWS)):
        n = min(FILE_ROWS, count - start)
        month = f"2025-{number % 12 + 1:02d}"
        # doc ids far from any real page's (those are hashes): the high bit set, then the row number
        ids = hex_ids(np.arange(start, start + n, dtype=np.uint64) | np.uint64(1 << 63))
        doc_file = str(
            root / "documents" / "source=synthetic" / f"month={month}" / f"part-{number:05d}.parquet"
        )
        columns = {
            "doc_id": ids,
            "url": pa.array([f"https://synthetic.test/{i}" for i in range(start, start + n)]),
            "canonical_url": pa.array([f"https://synthetic.test/{i}" for i in range(start, start + n)]),
            "text": pa.array(["synthetic document"] * n),
            "content_hash": hex_hashes(rng, n),
            "cluster_id": ids,
            "source": pa.array(["synthetic"] * n),
            "schema_version": pa.array(np.full(n, SCHEMA_VERSION, np.int16)),
        }
        table = pa.table(
            [columns.get(f.name, pa.nulls(n, f.type)).cast(f.type) for f in DOCUMENT_SCHEMA],
            schema=DOCUMENT_SCHEMA,
        )
        warehouse.publish(table, doc_file)
        bands = rng.integers(0, 2**32, (n, width), dtype=np.uint64).astype(np.uint32)
        paragraphs = rng.integers(0, 2**32, (n, PARAGRAPHS), dtype=np.uint64).astype(np.uint32)
        signatures = {
            "doc_id": ids,
            "cluster_id": ids,
            "bands": pa.FixedSizeListArray.from_arrays(pa.array(bands.ravel()), width).cast(
                pa.list_(pa.uint32())
            ),
            "paragraphs": pa.FixedSizeListArray.from_arrays(pa.array(paragraphs.ravel()), PARAGRAPHS).cast(
                pa.list_(pa.uint32())
            ),
            "doc_file": pa.array([doc_file] * n),
            "schema_version": pa.array(np.full(n, SCHEMA_VERSION, np.int16)),
        }
        table = pa.table(
            [signatures.get(f.name, pa.nulls(n, f.type)).cast(f.type) for f in SIGNATURE_SCHEMA],
            schema=SIGNATURE_SCHEMA,
        )
        warehouse.publish(table, str(root / "signatures" / "source=synthetic" / f"part-{number:05d}.parquet"))
        print(f"  {start + n:>12,} documents  {time.monotonic() - started:7.1f} s", flush=True)
    done.touch()
    return root


class PeakRSS(threading.Thread):
    """The peak of the summed RSS of a process and its descendants, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                tree = [self.process, *self.process.children(recursive=True)]
                total = 0
                for p in tree:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            time.sleep(0.02)


def timed(
    command: list[str], env: dict[str, str], cwd: Path, cpu: int | None = None
) -> tuple[float, int, str]:
    """(wall seconds, peak RSS bytes of the tree, output) of a command that must succeed; with `cpu`, the
    command and the processes it starts run on that core alone."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=None if cpu is None else lambda: os.sched_setaffinity(0, {cpu}),
    )
    sampler = PeakRSS(process.pid)
    sampler.start()
    output, _ = process.communicate()
    wall = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    if process.returncode:
        sys.exit(f"error: {' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return wall, sampler.peak, output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(work: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    config = work / "server.toml"
    config.write_text(f'[warehouse]\npath = "{work / "server-warehouse"}"\n')
    server = subprocess.Popen(
        [CORPUS, "server", "-c", str(config), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return server, url
        except OSError:
            time.sleep(0.5)
    server.kill()
    sys.exit("error: the Prefect server did not start within 120 s")


def new_pages(folder: Path, first: int, count: int = 10) -> None:
    from sites import make_article, news_page

    folder.mkdir(parents=True, exist_ok=True)
    for n in range(first, first + count):
        url = f"https://fresh.test/{n}.html"
        (folder / f"{n}.html").write_text(news_page(make_article(n, paragraphs=8), url))


def run_sizes(args: argparse.Namespace, env: dict[str, str]) -> None:
    roots = {size: synthetic(args.work, size) for size in args.sizes}
    configs = {}
    for size, root in roots.items():
        run = args.work / f"runs-{size}"
        run.mkdir(parents=True, exist_ok=True)
        configs[size] = run / "sources.toml"
        configs[size].write_text(
            f'[warehouse]\npath = "{root}"\n[[sources]]\nname = "fresh"\nkind = "files"\n'
            f'path = "pages/*.html"\nurl_prefix = "https://fresh.test/"\n'
        )
    print("\ndedup index of each warehouse built from its Parquet files (what a first run does, alone)")
    for size, root in roots.items():
        if size and not (root / "corpus.dedup.sqlite").exists():
            wall, peak, output = timed([sys.executable, "-c", MIGRATE, str(root)], env, root)
            built = (root / "corpus.dedup.sqlite").stat().st_size
            print(
                f"  {size:>12,} documents: {wall:7.1f} s, peak RSS {peak / 2**20:6.0f} MB; "
                f"{built / 2**20:,.0f} MB, {built / size:,.0f} bytes a document"
            )
    print("\nfirst ingest into each warehouse (its search index and catalog built too)")
    batch = int(time.time())  # page numbers never ingested before into these cached warehouses
    for size, config in configs.items():
        new_pages(config.parent / "pages", batch * 100)
        wall, peak, _ = timed([CORPUS, "ingest", "-c", str(config)], env, config.parent)
        index = Path(roots[size]) / "corpus.dedup.sqlite"
        size_mb = index.stat().st_size / 2**20 if index.exists() else 0.0
        per_doc = f", {index.stat().st_size / size:.0f} bytes a document" if size else ""
        print(
            f"  {size:>12,} documents: {wall:7.1f} s, peak RSS {peak / 2**20:6.0f} MB; "
            f"index {size_mb:,.0f} MB{per_doc}"
        )
    results: dict[int, list[tuple[float, int]]] = {size: [] for size in args.sizes}
    print(f"\n`corpus ingest` of 10 new pages, {args.runs} rounds (sizes alternating)")
    for round_ in range(args.runs):
        order = args.sizes if round_ % 2 == 0 else list(reversed(args.sizes))
        for size in order:
            config = configs[size]
            pages = config.parent / "pages"
            for old in pages.glob("*.html"):
                old.unlink()
            new_pages(pages, (batch + 1 + round_) * 100)
            wall, peak, output = timed(
                [CORPUS, "ingest", "-c", str(config), "-f", "json"], env, config.parent
            )
            written = json.loads(output[output.index("{") :])["sources"]["fresh"]["written"]
            if written != 10:
                sys.exit(f"error: {written} pages written, not 10:\n{output[-2000:]}")
            results[size].append((wall, peak))
            print(f"  round {round_ + 1}  {size:>12,}: {wall:6.2f} s  {peak / 2**20:6.0f} MB", flush=True)
    base = args.sizes[0]
    base_wall = statistics.median(w for w, _ in results[base])
    base_peak = statistics.median(p for _, p in results[base])
    print(
        f"\n{'documents':>12} {'wall s (median)':>16} {'peak MB (median)':>17} "
        f"{'Δ wall s':>9} {'Δ peak MB':>10}"
    )
    for size in args.sizes:
        wall = statistics.median(w for w, _ in results[size])
        peak = statistics.median(p for _, p in results[size])
        print(
            f"{size:>12,} {wall:>16.2f} {peak / 2**20:>17.0f} {wall - base_wall:>+9.2f} "
            f"{(peak - base_peak) / 2**20:>+10.0f}"
        )


def backfill(
    pages: int, args: argparse.Namespace, env: dict[str, str], cpu: int | None = None
) -> tuple[float, int, dict]:
    """Ingest the make_corpus WARC of `pages` pages into an empty warehouse (with `cpu`: one extraction
    process, everything on that core): (wall seconds, peak RSS bytes, the run's JSON summary)."""
    from bench_incremental import build

    warc = build(pages, 1, args.work)
    run = Path(tempfile.mkdtemp(dir=args.work, prefix=f"backfill-{pages}-"))
    config = run / "sources.toml"
    config.write_text(
        f'[warehouse]\npath = "wh"\n[[sources]]\nname = "backfill"\nkind = "warc"\npath = "{warc}"\n'
        + ("" if cpu is None else "[extract]\nprocesses = 1\n")
    )
    wall, peak, output = timed([CORPUS, "ingest", "-c", str(config), "--format", "json"], env, run, cpu)
    shutil.rmtree(run / "wh", ignore_errors=True)  # a 100k-page warehouse is ~0.8 GB
    return wall, peak, json.loads(output[output.index("{") :])


def run_backfill_side_by_side(args: argparse.Namespace, env: dict[str, str]) -> None:
    if len(args.backfill) != 2 or len(os.sched_getaffinity(0)) < 2:
        sys.exit("error: --side-by-side needs two --backfill sizes and two cores")
    small, large = sorted(args.backfill)
    small_cpu, large_cpu = sorted(os.sched_getaffinity(0))[:2]
    from bench_incremental import build

    for pages in (small, large):  # the WARCs first: building one is not part of either run
        build(pages, 1, args.work)
    result: list[dict] = []
    worker = threading.Thread(target=lambda: result.append(backfill(large, args, env, large_cpu)[2]))
    worker.start()
    rates = []
    while worker.is_alive():
        _, _, summary = backfill(small, args, env, small_cpu)
        if worker.is_alive():  # it ran wholly beside the large one
            rates.append(small / summary["seconds"])
            print(f"  {small:>8,} pages on core {small_cpu}: {rates[-1]:6.1f} pages/s", flush=True)
    worker.join()
    if not result or not rates:
        sys.exit("error: the large run failed, or no small run ended while it ran")
    large_rate = large / result[0]["seconds"]
    print(
        f"  {large:>8,} pages on core {large_cpu}: {large_rate:6.1f} pages/s\n"
        f"\n{large:,} pages / {small:,} pages side by side: {large_rate:.1f} / {statistics.mean(rates):.1f} "
        f"pages/s (mean of {len(rates)}; range {min(rates):.1f}-{max(rates):.1f}) = throughput ratio "
        f"{large_rate / statistics.mean(rates):.3f}",
        flush=True,
    )


def run_backfill(args: argparse.Namespace, env: dict[str, str]) -> None:
    rows = []
    for pages in args.backfill:
        wall, peak, summary = backfill(pages, args, env)
        seconds = summary["seconds"]
        rows.append((pages, seconds, wall, peak))
        written = sum(source["written"] for source in summary["sources"].values())
        cpu = summary.get("commit_cpu_seconds") or 0.0
        committer = (
            f"; commit step {summary['commit_seconds']:.0f} s ({summary['commit_seconds'] / seconds:.0%} of "
            f"the run), {cpu:.0f} s CPU: {written / cpu:,.0f} documents/s of one committer's CPU"
            if cpu
            else ""
        )
        print(
            f"  {pages:>8,} pages: flow {seconds:8.1f} s ({pages / seconds:6.1f} pages/s), "
            f"wall {wall:8.1f} s, "
            f"peak RSS {peak / 2**20:6.0f} MB{committer}",
            flush=True,
        )
    first = rows[0]
    print(f"\n{'pages':>8} {'pages/s':>8} {'peak MB':>8} {'throughput ratio':>17} {'peak ratio':>11}")
    for pages, seconds, _, peak in rows:
        print(
            f"{pages:>8,} {pages / seconds:>8.1f} {peak / 2**20:>8.0f} "
            f"{(pages / seconds) / (first[0] / first[1]):>17.3f} {peak / first[3]:>11.3f}"
        )


MIGRATE = """
import sys
from flows.config import DedupConfig
from flows.dedup.deduplicator import Deduplicator
from flows.warehouse import Warehouse
dedup = Deduplicator(Warehouse(sys.argv[1]), DedupConfig(), log=print)
dedup.refresh()
dedup.close()
"""

COMMITTER = """
import sys, time, numpy as np
from flows.config import DedupConfig
from flows.dedup.deduplicator import Deduplicator
from flows.warehouse import Warehouse
root, count = sys.argv[1], int(sys.argv[2])
options = DedupConfig()
dedup = Deduplicator(Warehouse(root), options)
started = time.perf_counter()
dedup.refresh()
refresh = time.perf_counter() - started
rng = np.random.default_rng(int(time.time()))
done, started = 0, time.perf_counter()
while done < count:
    n = min(500, count - done)
    rows = []
    for i in range(n):
        doc = f"{int(rng.integers(0, 2**62)):016x}"
        text_hash = "".join(f"{int(v):016x}" for v in rng.integers(0, 2**63, 2))
        rows.append({"doc_id": doc, "content_hash": text_hash, "text": "a b c",
                     "bands": rng.integers(0, 2**32, options.all_bands).tolist(),
                     "paragraphs": rng.integers(0, 2**32, 20).tolist()})
    classified = dedup.classify(rows)
    written = [(f"{root}/documents/bench-{done}.parquet", classified.kept)]
    signatures = dedup.committed(written, classified.pending)
    dedup.record("bench", written, [(f"{root}/signatures/bench-{done}.parquet", signatures)])
    done += n
seconds = time.perf_counter() - started
print(f"COMMITTER {refresh} {count / seconds}")
"""


def run_committer(args: argparse.Namespace, env: dict[str, str]) -> None:
    """Against each --sizes warehouse's index, in a copy of the warehouse (its Parquet files hard-linked,
    its index copied: the index names files relative to the warehouse, so the copy's is valid as it is);
    the rows recorded are synthetic (random ids and bands, never a real page's) and name files that do not
    exist, which would make the next run on the warehouse itself rebuild its index: the copy is removed."""
    print(f"\ncommit step alone, {args.committer:,} synthetic documents in chunks of 500")
    for size in args.sizes:
        root = synthetic(args.work, size)
        if size:  # builds the index, or rebuilds one of an older format (else nothing to do)
            timed([sys.executable, "-c", MIGRATE, str(root)], env, root)
        copy = Path(tempfile.mkdtemp(dir=args.work, prefix=f"committer-{size}-"))
        try:
            subprocess.run(["cp", "-al", f"{root}/.", str(copy)], check=True)
            for suffix in ("", "-wal", "-shm"):
                linked = copy / f"corpus.dedup.sqlite{suffix}"
                if linked.exists():
                    linked.unlink()
                    shutil.copy2(root / f"corpus.dedup.sqlite{suffix}", linked)
            out = subprocess.run(
                [sys.executable, "-c", COMMITTER, str(copy), str(args.committer)],
                capture_output=True,
                text=True,
                env=env,
            )
        finally:
            shutil.rmtree(copy, ignore_errors=True)
        if out.returncode:
            sys.exit(f"error: committer benchmark failed:\n{out.stderr[-3000:]}")
        line = next(line for line in out.stdout.splitlines() if line.startswith("COMMITTER"))
        _, refresh, rate = line.split()
        index = root / "corpus.dedup.sqlite"
        per_doc = (
            f"; index {index.stat().st_size / size:,.0f} bytes a document" if size and index.exists() else ""
        )
        print(
            f"  {size:>12,} stored: {float(rate):8.0f} docs/s "
            f"(refresh before: {float(refresh):.2f} s){per_doc}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="*", default=[0, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--backfill", type=int, nargs="*", default=[])
    parser.add_argument("--committer", type=int, default=0)
    parser.add_argument(
        "--side-by-side", action="store_true", help="--backfill: the two sizes at once, one core each"
    )
    parser.add_argument(
        "--temporary-server", action="store_true", help="no Prefect server: each run starts one"
    )
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "corpus-bench")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = None
    if not args.temporary_server and (args.sizes or args.backfill):
        server, url = start_server(args.work, env)
        env["PREFECT_API_URL"] = url
        print(f"Prefect server at {url}")
    try:
        if args.sizes and not args.committer:
            run_sizes(args, env)
        if args.committer:
            run_committer(args, env)
        if args.backfill:
            print("\nbackfill: make_corpus pages into an empty warehouse")
            (run_backfill_side_by_side if args.side_by_side else run_backfill)(args, env)
    finally:
        if server is not None:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
