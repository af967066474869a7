"""Threads vs a Dask LocalCluster on the same WARC corpus: docs/s of each, their ratio, and the overhead
per unit on the cluster.

    .venv/bin/python tests/bench/bench_dask.py [--docs 8000] [--shards 2] [--workers 2] [--repeat 2]
    .venv/bin/python tests/bench/bench_dask.py --check --docs 2000   # same warehouse with each runner
    .venv/bin/python tests/bench/bench_dask.py --check --s3 --docs 2000   # and with inputs and warehouse
                                                                         # on moto_server (S3)

The corpus comes from ../shared/tools/make_corpus.py (real news pages, rewritten; --shards WARC files),
built once into /tmp. Each run ingests it into a fresh warehouse with `corpus ingest` (a process of its
own, as a user runs it): threads, then dask, then dask, then threads... (alternating, so a machine that
slows down during the benchmark weighs on both). Timed: the whole command (the cluster's start
included) and the flow's own seconds (runs.seconds). Both runners extract on every core, so running
them side by side would only halve each: they alternate instead.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
MAKE_CORPUS = REPO.parent / "shared" / "tools" / "make_corpus.py"
CORPUS = REPO / ".venv" / "bin" / "corpus"


def build(docs: int, shards: int) -> Path:
    out = Path(f"/tmp/corpus-bench-dask-{docs}-{shards}")
    if not list(out.glob("*.warc.gz")):
        if not MAKE_CORPUS.exists():
            sys.exit(f"needs {MAKE_CORPUS} (the shared folder beside the repository)")
        subprocess.run(
            [
                sys.executable,
                str(MAKE_CORPUS),
                "--docs",
                str(docs),
                "--shards",
                str(shards),
                "--out",
                str(out),
            ],
            check=True,
        )
    return out


def ingest(folder: Path, corpus_dir: Path, runner: str, workers: int) -> tuple[float, float, int, int]:
    """(wall seconds, flow seconds, documents stored, units) of one run into a fresh warehouse."""
    warehouse = folder / f"wh-{runner}"
    shutil.rmtree(warehouse, ignore_errors=True)
    table = f'[runner]\nkind = "dask"\nworkers = {workers}\n' if runner == "dask" else ""
    config = folder / f"{runner}.toml"
    config.write_text(
        f'[warehouse]\npath = "{warehouse}"\n{table}'
        f'[[sources]]\nname = "bench"\nkind = "warc"\npath = "{corpus_dir}/*.warc.gz"\n'
    )
    started = time.perf_counter()
    done = subprocess.run([str(CORPUS), "ingest", "-c", str(config), "-v"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{runner}: ingest failed:\n{done.stderr[-3000:]}")
    units = done.stdout.count("Task run 'extract bench#") + done.stderr.count("Task run 'extract bench#")
    with duckdb.connect(str(warehouse / "corpus.duckdb"), read_only=True) as con:
        seconds, stored = con.sql(
            "select max(seconds), (select count(*) from documents) + (select count(*) from rejects) from runs"
        ).fetchone()
    return wall, float(seconds), int(stored), units


SNAPSHOT = {
    "documents": "select doc_id, url, cluster_id, duplicate_of, md5(text) from documents order by doc_id",
    "articles": "select doc_id, copies from articles order by doc_id",
    "inputs": (
        "select regexp_replace(path, '.*/', ''), records, documents, rejects, skipped from inputs order by 1"
    ),
}


def snapshot(config: Path, env: dict[str, str]) -> dict[str, list[str]]:
    """The rows through `corpus sql` (which reads an S3 warehouse with the AWS variables)."""
    found = {}
    for name, query in SNAPSHOT.items():
        done = subprocess.run(
            [str(CORPUS), "sql", "-c", str(config), "--format", "csv", query],
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode != 0:
            sys.exit(f"{config}: {done.stderr}")
        found[name] = done.stdout.splitlines()[1:]
    return found


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_s3(folder: Path, corpus_dir: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    """moto_server on 127.0.0.1, a bucket with the corpus's WARC files and one for the warehouses."""
    import httpx
    import pyarrow.fs as pafs

    port = free_port()
    server = subprocess.Popen(
        [str(CORPUS.parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # stopped with the cluster's processes, by process group
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(endpoint, timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.2)
    for bucket in ("bench-in", "bench-wh"):
        httpx.put(f"{endpoint}/{bucket}", timeout=10).raise_for_status()
    env = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
    }
    fs = pafs.S3FileSystem(
        access_key="bench", secret_key="bench", endpoint_override=f"127.0.0.1:{port}", scheme="http"
    )
    for path in sorted(corpus_dir.glob("*.warc.gz")):
        with fs.open_output_stream(f"bench-in/crawl/{path.name}", compression=None) as out:
            out.write(path.read_bytes())
    return server, env


def check(corpus_dir: Path, workers: int, s3: bool = False) -> None:
    """The same corpus through threads, a LocalCluster and an external scheduler with `workers` worker
    processes (started here on 127.0.0.1): the warehouses must hold the same rows. With `s3`, the same
    again with the inputs and the warehouse on moto_server."""
    import os
    import signal

    folder = Path("/tmp/corpus-bench-dask-check")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    port = free_port()
    dask = str(CORPUS.parent / "dask")
    processes = []
    aws: dict[str, str] = {}
    if s3:
        server, aws = start_s3(folder, corpus_dir)
        processes.append(server)
    env = {**os.environ, **aws, "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    quiet = {
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "env": env,
        "start_new_session": True,
    }
    processes += [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port)], **quiet)]
    address = f"tcp://127.0.0.1:{port}"
    time.sleep(3)
    processes += [
        subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1"], **quiet)
        for _ in range(workers)
    ]
    try:
        runners = {
            "threads": "",
            "local": f'[runner]\nkind = "dask"\nworkers = {workers}\n',
            "external": f'[runner]\nkind = "dask"\naddress = "{address}"\n',
        }
        runs = [(name, table, False) for name, table in runners.items()]
        runs += [(f"s3-{name}", table, True) for name, table in runners.items() if s3]
        results = {}
        for name, table, remote in runs:
            config = folder / f"{name}.toml"
            if remote:
                warehouse = f'path = "s3://bench-wh/{name}"\ncatalog = "{folder / name}/corpus.duckdb"'
                inputs = "s3://bench-in/crawl/*.warc.gz"
            else:
                warehouse, inputs = f'path = "{folder / name}"', f"{corpus_dir}/*.warc.gz"
            config.write_text(
                f"[warehouse]\n{warehouse}\n{table}"
                f'[[sources]]\nname = "bench"\nkind = "warc"\npath = "{inputs}"\n'
            )
            started = time.perf_counter()
            done = subprocess.run(
                [str(CORPUS), "ingest", "-c", str(config)], capture_output=True, text=True, env=env
            )
            if done.returncode != 0:
                sys.exit(f"{name}: ingest failed:\n{done.stderr[-3000:]}")
            took = time.perf_counter() - started
            results[name] = snapshot(config, env)
            counts = {table: len(rows) for table, rows in results[name].items()}
            print(f"{name:12} {took:6.1f} s  {counts}", flush=True)
        same = all(results[name] == results["threads"] for name, _table, _remote in runs)
        print(
            "identical documents, articles, cluster ids and input files"
            f"{' (inputs and warehouse on S3 too)' if s3 else ''}: {'yes' if same else 'NO'}"
        )
        if not same:
            sys.exit(1)
    finally:
        for process in processes:
            os.killpg(process.pid, signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=8000)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument(
        "--check", action="store_true", help="compare threads, a LocalCluster and an external cluster instead"
    )
    parser.add_argument(
        "--s3", action="store_true", help="with --check: also with inputs and warehouse on moto_server"
    )
    args = parser.parse_args()
    corpus_dir = build(args.docs, args.shards)
    if args.check:
        check(corpus_dir, args.workers, args.s3)
        return
    folder = Path("/tmp/corpus-bench-dask-runs")
    folder.mkdir(exist_ok=True)
    results: dict[str, list[tuple[float, float, int, int]]] = {"threads": [], "dask": []}
    order = ["threads", "dask"]
    for round_ in range(args.repeat):
        for runner in order if round_ % 2 == 0 else order[::-1]:
            result = ingest(folder, corpus_dir, runner, args.workers)
            results[runner].append(result)
            wall, flow, stored, units = result
            print(
                f"{runner:8} wall {wall:7.1f} s  flow {flow:7.1f} s  {args.docs / wall:7.1f} docs/s  "
                f"({stored} documents and rejects, {units} extract tasks)",
                flush=True,
            )
    best = {runner: min(r[0] for r in rs) for runner, rs in results.items()}
    flows = {runner: min(r[1] for r in rs) for runner, rs in results.items()}
    units = max(r[3] for r in results["dask"])
    threads_units = max(r[3] for r in results["threads"])
    print(f"\n{args.docs} pages in {args.shards} WARC files, Dask LocalCluster of {args.workers} workers")
    print(
        f"docs/s (best wall): threads {args.docs / best['threads']:.1f}, dask {args.docs / best['dask']:.1f}"
    )
    print(
        f"ratio dask/threads: {best['threads'] / best['dask']:.3f} (wall), "
        f"{flows['threads'] / flows['dask']:.3f} (flow)"
    )
    print(
        f"units: dask {units}, threads {threads_units}; overhead per dask unit vs threads: "
        f"{(flows['dask'] - flows['threads']) / max(units, 1) * 1000:.0f} ms (flow time)"
    )


if __name__ == "__main__":
    main()
