"""Near-duplicate detection benchmark: cluster quality against labels, dedup throughput, index scale.

    .venv/bin/python tests/bench/bench_dedup.py [--docs 20000] [--thresholds 0.5 0.6 0.7 0.8 0.9]
                                                [--work DIR]

1. Quality. Builds (once, cached in --work) a labelled WARC with ../shared/tools/make_corpus.py and ingests
   it with the pipeline (default settings). Then the dedup stage is replayed over the stored documents, in
   the order they were committed, at each threshold, with the product's own code (signature,
   Deduplicator.classify). Pairwise precision and recall of the clusters over the stored documents, with
   make_corpus's `family` as the truth (same family = same article).
2. Throughput of that replay: signatures (docs/s on one core; the pipeline computes them in the extraction
   workers) and classification (candidates, verification, clustering, and recording each chunk in the
   dedup index on disk, as the commit step does; docs/s).
The index at scale (synthetic warehouses of millions of documents): tests/bench/bench_scale.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_ingest import build_corpus  # noqa: E402

INGEST = """
import sys
from flows.ingest import ingest
if __name__ == "__main__":
    summary = ingest(sys.argv[1])
    print("SUMMARY" + summary.model_dump_json())
"""


def ingest_corpus(folder: Path, work: Path) -> tuple[Path, dict]:
    run = Path(tempfile.mkdtemp(dir=work, prefix="dedup-"))
    config = run / "sources.toml"
    config.write_text(
        f'[warehouse]\npath = "warehouse"\n[[sources]]\nname = "bench"\nkind = "warc"\n'
        f'path = "{folder / "corpus.warc.gz"}"\n'
    )
    script = run / "ingest.py"
    script.write_text(INGEST)
    env = {**os.environ, "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING", "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    out = subprocess.run([sys.executable, str(script), str(config)], capture_output=True, text=True, env=env)
    if out.returncode:
        sys.exit(f"error: ingest failed:\n{out.stderr[-3000:]}")
    summary = json.loads(next(line for line in out.stdout.splitlines() if line.startswith("SUMMARY"))[7:])
    summary["process_seconds"] = time.perf_counter() - started
    return run / "warehouse", summary


def stored_documents(warehouse: Path) -> list[dict]:
    """Stored documents in commit order (file name = run and sequence; row order within a file)."""
    import duckdb

    glob = str(warehouse / "documents" / "*" / "*" / "*.parquet")
    rows = duckdb.sql(
        f"select doc_id, url, text, content_hash, cluster_id, "
        f"regexp_extract(filename, 'part-(.*)\\.parquet', 1) as part, file_row_number "
        f"from read_parquet('{glob}', filename = true, file_row_number = true) order by part, file_row_number"
    ).fetchall()
    names = ["doc_id", "url", "text", "content_hash", "cluster_id"]
    return [dict(zip(names, row[:5], strict=True)) for row in rows]


def pairwise(clusters: list[str], families: list[str]) -> tuple[float, float]:
    def pairs(counts: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    predicted = pairs(Counter(clusters))
    true = pairs(Counter(families))
    both = pairs(Counter(zip(clusters, families, strict=True)))
    return (both / predicted if predicted else 1.0), (both / true if true else 1.0)


class _Texts:
    """Stand-in warehouse for the replay: texts by doc_id (the replay's "file" is the doc_id)."""

    def __init__(self, docs: list[dict]) -> None:
        self.texts = {d["doc_id"]: d["text"] for d in docs}

    def read_text(self, path: str, doc_id: str) -> str | None:
        return self.texts.get(doc_id)


def replay(docs: list[dict], threshold: float) -> dict:
    from flows.config import DedupConfig
    from flows.dedup.deduplicator import Deduplicator
    from flows.dedup.index import DedupIndex
    from flows.dedup.near import signature

    options = DedupConfig(threshold=threshold)
    started = time.perf_counter()
    signatures = [signature(d["text"], options) for d in docs]
    signing = time.perf_counter() - started
    texts = _Texts(docs)
    folder = tempfile.mkdtemp(prefix="dedup-index-")
    index = DedupIndex(os.path.join(folder, "index.sqlite"), {}, options.index_memory)
    dedup = Deduplicator(texts, options, index)  # type: ignore[arg-type]
    rows = [  # as the workers hand them to the commit step: with band and paragraph hashes
        {
            "doc_id": d["doc_id"],
            "content_hash": d["content_hash"],
            "text": d["text"],
            "bands": s.bands,
            "paragraphs": s.paragraphs,
        }
        for d, s in zip(docs, signatures, strict=True)
    ]
    started = time.perf_counter()
    clusters = []
    for number, start in enumerate(range(0, len(rows), 500)):  # chunks, as the commit step sees them
        classified = dedup.classify(rows[start : start + 500])
        # recorded in the index on disk as a commit does (texts are read back from memory, not Parquet)
        written = [(f"chunk-{number}", classified.kept)]
        signatures = dedup.committed(written, classified.pending)  # type: ignore[arg-type]
        dedup.record("bench", written, [(f"signatures-{number}", signatures)])  # type: ignore[list-item]
        clusters += [row["cluster_id"] for row in classified.kept]
    classifying = time.perf_counter() - started
    dedup.close()
    shutil.rmtree(folder)
    return {
        "clusters": clusters,
        "sign_docs_s": len(docs) / signing,
        "classify_docs_s": len(docs) / classifying,
        "verified": dedup.near.verified if dedup.near else 0,
        "text_reads": dedup.near.cache.reads if dedup.near else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=20_000)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8, 0.9])
    parser.add_argument("--scale", type=int, default=0, help=argparse.SUPPRESS)  # moved: bench_scale.py
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "corpus-bench")
    parser.add_argument(
        "--warehouse", type=Path, help="reuse the warehouse of an earlier run of this benchmark (no ingest)"
    )
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)

    folder = build_corpus(args.docs, args.work).parent
    with open(folder / "labels.csv", newline="") as labels:
        families = {row["url"]: row["family"] for row in csv.DictReader(labels)}
    if args.warehouse:
        warehouse = args.warehouse
    else:
        warehouse, summary = ingest_corpus(folder, args.work)
        stats = summary["sources"]["bench"]
        print(
            f"ingested {args.docs} pages into {warehouse}: {stats['extracted']} extracted, "
            f"{stats['written']} stored, {stats['duplicates']} duplicates, {stats['rejected']} rejected; "
            f"flow {summary['seconds']:.1f} s ({args.docs / summary['seconds']:.1f} docs/s, "
            "near dedup included)"
        )
    docs = stored_documents(warehouse)
    truth = [families[d["url"]] for d in docs]
    p, r = pairwise([d["cluster_id"] for d in docs], truth)
    print(
        f"{len(docs)} stored documents; their clusters as stored: precision {p:.4f}  recall {r:.4f}  "
        f"clusters {len({d['cluster_id'] for d in docs})}  families {len(set(truth))}"
    )
    print(
        f"\n{'threshold':>9} {'precision':>9} {'recall':>7} {'clusters':>8} {'verified':>8} "
        f"{'text reads':>10} {'sign docs/s':>11} {'classify docs/s':>15}"
    )
    for threshold in args.thresholds:
        result = replay(docs, threshold)
        p, r = pairwise(result["clusters"], truth)
        print(
            f"{threshold:>9.2f} {p:>9.4f} {r:>7.4f} {len(set(result['clusters'])):>8} "
            f"{result['verified']:>8} "
            f"{result['text_reads']:>10} {result['sign_docs_s']:>11.0f} {result['classify_docs_s']:>15.0f}",
            flush=True,
        )
    if args.scale:
        print("\nthe index at scale is measured by tests/bench/bench_scale.py (--sizes, --committer)")


if __name__ == "__main__":
    main()
