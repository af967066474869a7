"""Analysts' benchmark: queries, search and compaction on a warehouse of synthetic articles.

    .venv/bin/python tests/bench/bench_warehouse.py [--articles 1000000] [--work DIR] [--keep]

1. Writes a warehouse the way ingest leaves one after many runs: documents in files of 500 rows (one per
   commit) per source and month, with their signatures and some rejects. Texts are words drawn with their
   frequencies in the 181 real articles of ../shared/bench (tests/sites.py's word list without it),
   lengths log-normal around 600 words, in paragraphs; 10 % of the rows are copies of an earlier article
   under another source (exact copies, in the same cluster), as syndication leaves them.
2. Builds the views, then times each query (best of three runs, after one untimed run that warms the OS
   cache): counts by source and day over `documents`, `articles` and `daily_counts`, a LIKE filter, and
   a full-text search after building the search index (timed too).
3. Compacts the warehouse (timed), checks every row is still there, and times the queries again.
It prints one table with the figures, and the after/before ratio of each query.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))
GROUND_TRUTH = REPO.parent / "shared" / "bench" / "article-extraction-benchmark" / "ground-truth.json"

SOURCES = ["wire", "daily", "courier", "ledger", "herald", "monitor", "sentinel", "gazette"]
FILE_ROWS = 500  # what one commit writes into a partition
BANDS = 32
COPY_SHARE = 0.10

QUERIES = {
    "count by source and day (documents)": (
        "select source, published_date as day, count(*) as n from documents group by all"
    ),
    "count by source and day (articles)": (
        "select source, published_date as day, count(*) as n from articles group by all"
    ),
    "daily_counts view": "select * from daily_counts",
    "sources view": "select * from sources",
    "LIKE filter on text": (
        "select count(*) from documents where text like '%climate change%' and source = 'wire'"
    ),
    "ILIKE on title, by month": (
        "select date_trunc('month', published_at) as m, count(*) from articles "
        "where title ilike '%election%' group by 1"
    ),
}
SEARCH_WORDS = "border trade routes"


def vocabulary() -> tuple[list[str], np.ndarray]:
    if GROUND_TRUTH.exists():
        bodies = [v["articleBody"] for v in json.loads(GROUND_TRUTH.read_text()).values()]
        counts = Counter(w for body in bodies for w in body.split())
    else:
        from sites import WORDS

        counts = Counter({w: 1.0 / (rank + 1) for rank, w in enumerate(WORDS)})
    words = list(counts)
    weights = np.asarray([counts[w] for w in words], dtype=np.float64)
    return words, weights / weights.sum()


class TextMaker:
    """Texts as words drawn with their frequencies, built in numpy a batch at a time."""

    def __init__(self, rng: np.random.Generator) -> None:
        words, self.p = vocabulary()
        encoded = [w.encode() for w in words]
        self.lengths = np.asarray([len(w) for w in encoded], np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.data = np.frombuffer(b"".join(encoded), np.uint8)
        self.rng = rng

    def texts(self, word_counts: np.ndarray) -> pa.Array:
        ids = self.rng.choice(len(self.p), size=int(word_counts.sum()), p=self.p)
        lengths = self.lengths[ids]
        word = np.repeat(np.arange(len(ids)), lengths)
        within = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        out = np.full(int(lengths.sum()) + len(ids), ord(" "), np.uint8)
        out[np.arange(len(word)) + word] = self.data[self.offsets[ids][word] + within]
        ends = np.cumsum(lengths) + np.arange(len(ids))  # the separator after each word
        paragraph_end = self.rng.random(len(ids)) < 1 / 60
        out[ends[paragraph_end]] = ord("\n")
        doc_ends = ends[np.cumsum(word_counts) - 1] + 1
        offsets = np.concatenate([[0], doc_ends]).astype(np.int64)
        raw = pa.LargeStringArray.from_buffers(len(word_counts), pa.py_buffer(offsets), pa.py_buffer(out))
        return pc.utf8_trim_whitespace(raw).cast(pa.string())

    def titles(self, count: int) -> pa.Array:
        return self.texts(np.full(count, 8))


def hex_ids(rng: np.random.Generator, count: int, digits: int) -> pa.Array:
    raw = rng.integers(0, 16, size=(count, digits), dtype=np.uint8)
    chars = np.frombuffer(b"0123456789abcdef", np.uint8)[raw]
    return pa.array(chars.view(f"S{digits}").ravel().astype(str))


def build(root: Path, articles: int, seed: int = 7) -> None:
    from flows.warehouse import Warehouse
    from flows.warehouse.tables import DOCUMENT_SCHEMA, REJECT_SCHEMA, SCHEMA_VERSION

    store = Warehouse(str(root))
    rng = np.random.default_rng(seed)
    maker = TextMaker(rng)
    start = date(2025, 1, 1)
    made = 0
    commit = 0
    per_batch = 20 * FILE_ROWS
    started = time.monotonic()
    previous: pa.Table | None = None
    while made < articles:
        count = min(per_batch, articles - made)
        source = SOURCES[commit % len(SOURCES)]
        days = np.sort(rng.integers(0, 365, count))  # a batch spans the year: files cut across months
        published = pa.array([start + timedelta(days=int(d)) for d in days], pa.date32())
        minutes = rng.integers(6 * 60, 22 * 60, count)  # the minute of publication, UTC
        published_utc = pa.array(
            [
                datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(minutes=int(m))
                for day, m in zip(published.to_pylist(), minutes, strict=True)
            ],
            pa.timestamp("us", tz="UTC"),
        )
        words = np.clip(rng.lognormal(np.log(600), 0.5, count), 80, 6000).astype(np.int64)
        texts = maker.texts(words)
        doc_ids = hex_ids(rng, count, 16)
        cluster = doc_ids
        duplicate_of = pa.nulls(count, pa.string())
        similarity = pa.nulls(count, pa.float32())
        if previous is not None:  # copies of articles another source stored earlier
            copied = rng.random(count) < COPY_SHARE
            take = rng.integers(0, previous.num_rows, count)

            texts = _copy_or_own(copied, previous["text"], take, texts)
            originals = previous["doc_id"].to_numpy(zero_copy_only=False)[take]
            cluster = _copy_or_own(copied, previous["cluster_id"], take, doc_ids)
            duplicate_of = pa.array(np.where(copied, originals, None), pa.string())
            similarity = pa.array(np.where(copied, 1.0, np.nan), pa.float32(), from_pandas=True)
        fetched = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=5 * commit)
        run_id = f"{fetched:%Y%m%dT%H%M%SZ}-{commit:06x}"
        urls = pc.binary_join_element_wise(f"https://{source}.example/2025/", doc_ids, ".html", "")
        table = pa.table(
            {
                "doc_id": doc_ids,
                "url": urls,
                "canonical_url": urls,
                "title": maker.titles(count),
                "page_title": pa.nulls(count, pa.string()),
                "authors": pa.array(
                    [[f"Writer {i}"] for i in rng.integers(0, 400, count)], pa.list_(pa.string())
                ),
                "published_utc": published_utc,
                "published_date": published,
                "published_offset": pa.array([0] * count, pa.int16()),
                "published_precision": pa.array(["minute"] * count),
                "modified_utc": pa.nulls(count, pa.timestamp("us", tz="UTC")),
                "modified_offset": pa.nulls(count, pa.int16()),
                "modified_precision": pa.nulls(count, pa.string()),
                "section": pa.array(["World"] * count),
                "image": pa.nulls(count, pa.string()),
                "language": pa.array(["en"] * count),
                "sitename": pa.array([f"The {source.title()}"] * count),
                "description": pa.nulls(count, pa.string()),
                "tags": pa.array([["world", "politics"]] * count, pa.list_(pa.string())),
                "text": texts,
                "word_count": pa.array(words, pa.int32()),
                "content_hash": hex_ids(rng, count, 32),
                "duplicate_of": duplicate_of,
                "cluster_id": cluster,
                "similarity": similarity,
                "page_type": pa.array(["article"] * count),
                "fetched_at": pa.array([fetched] * count, pa.timestamp("us", tz="UTC")),
                "run_id": pa.array([run_id] * count),
                "origin": pa.array([f"/archive/{run_id}.warc.gz"] * count),
                "schema_version": pa.array([SCHEMA_VERSION] * count, pa.int16()),
            },
            schema=DOCUMENT_SCHEMA,
        )
        previous = table
        months = pc.strftime(pc.cast(table["published_date"], pa.timestamp("s")), "%Y-%m").to_numpy(
            zero_copy_only=False
        )
        for seq, first in enumerate(range(0, count, FILE_ROWS)):
            commit_rows = table.slice(first, FILE_ROWS)
            commit_months = months[first : first + FILE_ROWS]
            for month in np.unique(commit_months):
                rows = commit_rows.filter(pa.array(commit_months == month))
                name = f"part-{run_id}-{seq:05d}.parquet"
                doc_file = store.path("documents", f"source={source}", f"month={month}", name)
                store.publish(rows, doc_file)
                store.publish(
                    _signatures(rng, rows, doc_file, run_id),
                    store.path("signatures", f"source={source}", f"sig-{run_id}-{seq:05d}-{month}.parquet"),
                )
            rejects = max(1, FILE_ROWS // 50)
            store.publish(
                pa.table(
                    {
                        "url": pa.array(
                            [f"https://{source}.example/x/{commit}-{seq}-{i}" for i in range(rejects)]
                        ),
                        "reason": pa.array(rng.choice(["no_text", "too_short", "http_404"], rejects)),
                        "detail": pa.array([""] * rejects),
                        "origin": pa.nulls(rejects, pa.string()),
                        "fetched_at": pa.array([fetched] * rejects, pa.timestamp("us", tz="UTC")),
                        "run_id": pa.array([run_id] * rejects),
                        "schema_version": pa.array([SCHEMA_VERSION] * rejects, pa.int16()),
                    },
                    schema=REJECT_SCHEMA,
                ),
                store.path("rejects", f"source={source}", f"part-{run_id}-{seq:05d}.parquet"),
            )
        made += count
        commit += 1
        rate = made / (time.monotonic() - started)
        print(f"\r  wrote {made:,} of {articles:,} articles ({rate:,.0f}/s)", end="", flush=True)
    print()


def _copy_or_own(copied: np.ndarray, earlier: pa.ChunkedArray, take: np.ndarray, own: pa.Array) -> pa.Array:
    """Each row's value from the earlier batch's row `take` where `copied`, else its own."""
    values = earlier.to_numpy(zero_copy_only=False)[take]
    return pa.array(np.where(copied, values, own.to_numpy(zero_copy_only=False)), pa.string())


def _signatures(rng: np.random.Generator, rows: pa.Table, doc_file: str, run_id: str) -> pa.Table:
    from flows.warehouse.tables import SCHEMA_VERSION, SIGNATURE_SCHEMA

    n = rows.num_rows
    bands = rng.integers(0, 2**32, size=(n, BANDS), dtype=np.uint32)
    paragraphs = rng.integers(0, 2**32, size=(n, 10), dtype=np.uint32)
    return pa.table(
        {
            "doc_id": rows["doc_id"],
            "cluster_id": rows["cluster_id"],
            "bands": pa.FixedSizeListArray.from_arrays(bands.ravel(), BANDS).cast(pa.list_(pa.uint32())),
            "paragraphs": pa.FixedSizeListArray.from_arrays(paragraphs.ravel(), 10).cast(
                pa.list_(pa.uint32())
            ),
            "doc_file": pa.array([doc_file] * n),
            "run_id": pa.array([run_id] * n),
            "schema_version": pa.array([SCHEMA_VERSION] * n, pa.int16()),
        },
        schema=SIGNATURE_SCHEMA,
    )


def time_queries(store, label: str) -> dict[str, float]:
    import duckdb

    from flows.analyst import query

    timings = {}
    with duckdb.connect(store.catalog, read_only=True) as con:
        for name, sql in QUERIES.items():
            query.run(con, sql)  # warms the OS cache
            best = float("inf")
            for _ in range(3):
                started = time.perf_counter()
                result = query.run(con, sql)
                best = min(best, time.perf_counter() - started)
            timings[name] = best
            print(f"  {label:>6}  {name:<40} {best:7.3f} s  ({result.num_rows:,} rows)", flush=True)
    return timings


def time_search(store) -> float:
    from flows.analyst import search

    search.search(store, SEARCH_WORDS)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        hits = search.search(store, SEARCH_WORDS, limit=10)
        best = min(best, time.perf_counter() - started)
    print(f"  search {SEARCH_WORDS!r}: {best:.3f} s, top score {hits.column('score')[0]}", flush=True)
    return best


def row_counts(store) -> dict[str, int]:
    import duckdb

    with duckdb.connect(store.catalog, read_only=True) as con:
        return {
            view: con.execute(f"select count(*) from {view}").fetchone()[0]
            for view in ("documents", "articles", "rejects", "internal.signatures")
        }


def time_report(root: Path, output: Path) -> None:
    """`corpus report` as a user runs it (a process of its own), timed whole, and the file's size."""
    import subprocess

    started = time.monotonic()
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "corpus"), "report", "--warehouse", str(root), "--output", str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    print(
        f"corpus report: {seconds:.1f} s wall, {output.stat().st_size / 2**20:.2f} MB ({output})", flush=True
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--articles", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/corpus-bench"))
    parser.add_argument("--keep", action="store_true", help="Reuse a warehouse built before at this size.")
    parser.add_argument("--no-search", action="store_true", help="Skip building the search index.")
    parser.add_argument(
        "--report-only", action="store_true", help="Only time `corpus report` on the warehouse (then stop)."
    )
    args = parser.parse_args()

    from flows.analyst import search
    from flows.warehouse import Warehouse
    from flows.warehouse.compact import compact
    from flows.warehouse.tables import DOCUMENTS
    from flows.warehouse.views import build_views

    root = args.work / f"warehouse-{args.articles}"
    if not (args.keep and (root / "corpus.duckdb").exists()):
        shutil.rmtree(root, ignore_errors=True)
        print(f"building a warehouse of {args.articles:,} synthetic articles in {root}", flush=True)
        started = time.monotonic()
        build(root, args.articles)
        print(f"  built in {time.monotonic() - started:.0f} s", flush=True)
    store = Warehouse(str(root))
    build_views(store)
    files = len(list(store.files(DOCUMENTS)))
    size = sum(p.stat().st_size for p in (root / "documents").rglob("*.parquet"))
    counts = row_counts(store)
    print(
        f"documents: {counts['documents']:,} rows in {files:,} files, {size / 2**30:.2f} GiB; "
        f"articles: {counts['articles']:,}",
        flush=True,
    )

    if args.report_only:
        time_report(root, args.work / f"report-{args.articles}.html")
        return

    before = time_queries(store, "before")
    index_seconds = search_before = None
    if not args.no_search:
        started = time.monotonic()
        for stale in search.index_path(store).parent.glob(search.index_path(store).name + "*"):
            stale.unlink()  # a fresh index: the build is timed whole
        built = search.refresh(
            store, lambda added: print(f"\r  search index: {added:,} documents added", end="", flush=True)
        )
        print()
        index_seconds = time.monotonic() - started
        print(f"  search index: {built.documents:,} documents in {index_seconds:.1f} s", flush=True)
        search_before = time_search(store)

    print("compacting ...", flush=True)
    report = compact(store)
    for table in report.tables:
        print(
            f"  {table.table:<11} {table.files_before:>6,} files → {table.files_after:>4,}  "
            f"{table.bytes_before / 2**20:9.1f} MB → {table.bytes_after / 2**20:9.1f} MB  {table.rows:,} rows"
        )
    print(f"  compact: {report.seconds:.1f} s (search index re-pointed: {report.search_updated})", flush=True)
    assert row_counts(store) == counts, "compaction changed row counts"
    after = time_queries(store, "after")
    search_after = time_search(store) if not args.no_search else None

    print(
        f"\n## {args.articles:,} articles, {files:,} documents files → "
        f"{sum(1 for _ in store.files(DOCUMENTS)):,} after compaction"
    )
    print("| query | before compaction (s) | after (s) | after ÷ before |")
    print("| --- | ---: | ---: | ---: |")
    for name in QUERIES:
        print(f"| {name} | {before[name]:.3f} | {after[name]:.3f} | {after[name] / before[name]:.2f} |")
    if search_before is not None:
        print(
            f"| search {SEARCH_WORDS!r} | {search_before:.3f} | {search_after:.3f} | "
            f"{search_after / search_before:.2f} |"
        )
        print(f"search index build: {index_seconds:.1f} s")
    print(f"compact: {report.seconds:.1f} s")


if __name__ == "__main__":
    main()
