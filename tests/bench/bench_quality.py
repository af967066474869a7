"""Extraction quality on real news pages: the pipeline with its default settings against bare trafilatura
with the same options, on ../shared/bench/article-extraction-benchmark (181 pages with hand-made bodies).

    .venv/bin/python tests/bench/bench_quality.py [--bench DIR] [--show N]

For each page: trafilatura's `bare_extraction(html, url, include_comments=False, favor_precision=True,
with_metadata=True)` and the pipeline's own path for one page (extract_page with the default extraction
settings, then the default quality filters: what `corpus ingest` stores). Token F1 against the ground truth
(bag of words; words as flows/extract/words.py segments them, so Chinese and Japanese pages are scored on
words, not on whole sentences); a page not stored scores 0. Prints both means, every page the pipeline
rejects with its reason, and the pages whose stored text differs from bare_extraction's.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from trafilatura import bare_extraction  # noqa: E402

from flows import filters  # noqa: E402
from flows.config import ExtractConfig, FilterFields  # noqa: E402
from flows.extract.page import ExtractOptions, drop_headline, extract_page, normalize_text  # noqa: E402
from flows.extract.words import has_spaceless, segment  # noqa: E402
from flows.records import Page  # noqa: E402

_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> Counter[str]:
    words: Counter[str] = Counter()
    for token in _TOKEN.findall(text.lower()):
        if has_spaceless(token):
            words.update(segment(token))
        else:
            words[token] += 1
    return words


def f1(found: str | None, truth: str) -> float:
    if not found:
        return 0.0
    got, want = tokens(found), tokens(truth)
    common = sum((got & want).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bench", type=Path, default=REPO.parent / "shared/bench/article-extraction-benchmark"
    )
    parser.add_argument("--show", type=int, default=10, help="differing pages to list")
    args = parser.parse_args()
    truth = json.loads((args.bench / "ground-truth.json").read_text())
    options = ExtractOptions.of(ExtractConfig())
    settings = FilterFields()
    bare_scores, pipeline_scores, rejected, differing = [], [], [], []
    for key in sorted(truth):
        entry = truth[key]
        html = gzip.decompress((args.bench / "html" / f"{key}.html.gz").read_bytes())
        url = entry["url"]
        bare = bare_extraction(
            html, url=url, include_comments=False, favor_precision=True, with_metadata=True
        )
        bare_text = normalize_text(bare.text) if bare is not None and bare.text else None
        bare_scores.append(f1(bare_text, entry["articleBody"]))
        outcome = extract_page(Page(url, html, datetime.now(UTC), key), options)
        document = outcome.document
        failed = filters.check(document, settings) if document is not None else None
        if document is None or failed is not None:
            reason, detail = failed or (outcome.reject["reason"], outcome.reject["detail"])  # type: ignore[index]
            rejected.append((key[:12], url, reason, detail, bare_scores[-1]))
            pipeline_scores.append(0.0)
            continue
        pipeline_scores.append(f1(document["text"], entry["articleBody"]))
        stored_bare = drop_headline(bare_text or "", document["title"])  # the stored form of bare's text
        if bare_text is not None and document["text"] != stored_bare:
            differing.append((key[:12], url, pipeline_scores[-1], bare_scores[-1]))
    pages = len(truth)
    print(f"pages: {pages}")
    print(f"bare trafilatura F1: {sum(bare_scores) / pages:.4f}")
    print(f"pipeline F1:         {sum(pipeline_scores) / pages:.4f}  (a page not stored counts 0)")
    print(f"pipeline / bare:     {sum(pipeline_scores) / max(sum(bare_scores), 1e-9):.4f}")
    print(f"rejected by the pipeline: {len(rejected)}")
    for key, url, reason, detail, bare_f1 in rejected:
        print(f"  {key} {reason}: {detail} (bare F1 {bare_f1:.3f}) {url}")
    print(f"stored text differs from bare_extraction's: {len(differing)}")
    for key, url, mine, theirs in differing[: args.show]:
        print(f"  {key} F1 {mine:.3f} vs bare {theirs:.3f} {url}")


if __name__ == "__main__":
    main()
