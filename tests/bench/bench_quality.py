"""Extraction quality on real news pages: the pipeline with its default settings against bare trafilatura
with the same options, on ../shared/bench/article-extraction-benchmark (181 pages with hand-made bodies).

    .venv/bin/python tests/bench/bench_quality.py [--bench DIR] [--show N]

For each page: trafilatura's `bare_extraction(html, url, include_comments=False, favor_precision=True,
with_metadata=True)` and the pipeline's own path for one page (extract_page with the default extraction
settings, then the default quality filters: what `corpus ingest` stores). Token F1 against the ground truth
(bag of words; words as flows/extract/words.py segments them, so Chinese and Japanese pages are scored on
words, not on whole sentences); a page not stored scores 0. Prints both means, every page the pipeline
rejects with its reason, and the pages whose stored text differs from bare_extraction's.

Metadata: on the pages labelled in tests/bench/metadata_labels.json (122 of the 181, labelled by hand by
reading each page: the headline is the article's visible headline, its <h1> where that is the article's,
typed where the page's <h1> is the site's; authors are the people (or the agency) the visible byline names,
none where it names only the site, a desk or an account such as "admin"; the publication moment is the one
the page states for the article (visible date line or declared time where they agree; the declared
`article:published_time`/JSON-LD time where only that gives a time; the day only where the page gives no
time or its times disagree; nothing where it states no date), headline, authors and publication day are
compared with bare trafilatura's title, author (split at "; ") and date; the publication time (within a
minute, on the pages whose label has one) is the pipeline's alone, trafilatura keeping the day only.

`--experiment` also measures a candidate improvement, on those pages and on a second set built here
(tests/multilingual.py's six articles, each on three layouts: its own page, the body split by a "read also"
box, the body in <div>s with a pull quote): choosing per page between trafilatura's precision and recall
modes, taking the recall text when the precise one has less than RATIO of its words (a precise text much
shorter than the page's main block is usually a body cut short). The product keeps it only if F1 rises on
both sets.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import unicodedata
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from trafilatura import bare_extraction  # noqa: E402

from flows import filters  # noqa: E402
from flows.config import ExtractConfig, FilterFields  # noqa: E402
from flows.extract.options import ExtractOptions  # noqa: E402
from flows.extract.page import drop_headline, extract_page, normalize_text  # noqa: E402
from flows.extract.words import count_words, has_spaceless, segment  # noqa: E402
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


def mode_text(html: bytes | str, url: str, precision: bool) -> str | None:
    """bare_extraction's text in precision or recall mode (the product's other options), normalised."""
    options = {"favor_precision": True} if precision else {"favor_recall": True}
    found = bare_extraction(html, url=url, include_comments=False, with_metadata=True, **options)
    return normalize_text(found.text) if found is not None and found.text else None


def chosen(precise: str | None, recall: str | None, ratio: float) -> str | None:
    """The candidate rule: the recall text where the precise one has under `ratio` of its words."""
    if recall and (not precise or count_words(precise) < ratio * count_words(recall)):
        return recall
    return precise


def multilingual_pages() -> list[tuple[str, str, str]]:
    """(url, html, ground truth) for tests/multilingual.py's articles on three layouts each."""
    sys.path.insert(0, str(REPO / "tests"))
    from html import escape

    from multilingual import PAGES, foreign_page

    pages = []
    for page in PAGES:
        texts, truth = [escape(t) for t in page.texts], "\n".join(page.texts)
        html = foreign_page(page)
        body = "\n".join(f"<p>{t}</p>" for t in texts)
        half = len(texts) // 2
        split = (
            "\n".join(f"<p>{t}</p>" for t in texts[:half])
            + f'\n</div><div class="read-also"><a href="/r/1">{escape(page.related[0])}</a></div>'
            + '<div class="article-body">\n'
            + "\n".join(f"<p>{t}</p>" for t in texts[half:])
        )
        divs = (
            "\n".join(f'<div class="para">{t}</div>' for t in texts[:half])
            + (f'\n<blockquote class="pull">{escape(page.texts[0][:40])}</blockquote>\n')
            + "\n".join(f'<div class="para">{t}</div>' for t in texts[half:])
        )
        assert body in html, page.url  # the layouts below replace the body of foreign_page's own
        pages.append((page.url, html, truth))
        pages.append((page.url + "?layout=split", html.replace(body, split), truth))
        pages.append((page.url + "?layout=divs", html.replace(body, divs), truth))
    return pages


def experiment(named: list[tuple[str, list[tuple[str, str | bytes, str]]]], ratios: list[float]) -> None:
    print("\nexperiment: per page, precision or recall mode (recall where precise < RATIO × recall words)")
    for name, pages in named:
        precise_f1, recall_f1, chosen_f1 = 0.0, 0.0, {r: 0.0 for r in ratios}
        for url, html, truth in pages:
            precise, recall = mode_text(html, url, True), mode_text(html, url, False)
            precise_f1 += f1(precise, truth)
            recall_f1 += f1(recall, truth)
            for ratio in ratios:
                chosen_f1[ratio] += f1(chosen(precise, recall, ratio), truth)
        n = len(pages)
        line = ", ".join(f"RATIO {r}: {chosen_f1[r] / n:.4f}" for r in ratios)
        print(f"  {name} ({n} pages): precision {precise_f1 / n:.4f}, recall {recall_f1 / n:.4f}; {line}")


LABELS = Path(__file__).resolve().parent / "metadata_labels.json"


def folded(text: str | None) -> str:
    """Text compared as letters and digits only: quotes, dashes, case and spacing do not count."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return "".join(ch for ch in text if ch.isalnum())


def score_metadata(
    label: dict[str, Any],
    bare: Any,
    document: Any,
    fields: dict[str, list[tuple[bool, bool | None]]],
    misses: list[str],
    key: str,
) -> None:
    """Append (pipeline right, bare right) per field for one labelled page."""
    doc = document or {}
    bare_title = bare.title if bare is not None else None
    bare_authors = [a for a in (bare.author or "").split("; ") if a] if bare is not None else []
    bare_date = bare.date if bare is not None else None
    want_authors = {folded(a) for a in label["authors"]}
    stated = label["published"]
    want_day = stated[:10] if stated else None
    got_day = doc["published_date"].isoformat() if doc.get("published_date") else None
    checks = {
        "headline": (
            folded(doc.get("title")) == folded(label["headline"]),
            folded(bare_title) == folded(label["headline"]),
        ),
        "authors": (
            {folded(a) for a in doc.get("authors") or []} == want_authors,
            {folded(a) for a in bare_authors} == want_authors,
        ),
        "date": (got_day == want_day, (bare_date or None) == want_day),
    }
    if stated and "T" in stated:
        moment = datetime.fromisoformat(stated)
        got = doc.get("published_utc")
        right = (
            got is not None
            and doc.get("published_precision") != "day"
            and abs((got - moment).total_seconds()) < 60
        )
        checks["time"] = (right, None)
    for name, (mine, theirs) in checks.items():
        fields[name].append((mine, theirs))
        if not mine:
            shown = {
                "headline": doc.get("title"),
                "authors": doc.get("authors"),
                "date": got_day,
                "time": doc.get("published_utc"),
            }[name]
            wanted = {
                "headline": label["headline"],
                "authors": label["authors"],
                "date": want_day,
                "time": stated,
            }[name]
            misses.append(f"{key} {name}: got {shown!r}, label {wanted!r}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bench", type=Path, default=REPO.parent / "shared/bench/article-extraction-benchmark"
    )
    parser.add_argument("--show", type=int, default=10, help="differing pages to list")
    parser.add_argument("--experiment", action="store_true", help="also measure the per-page mode choice")
    parser.add_argument("--ratios", type=float, nargs="+", default=[0.5, 0.7, 0.85])
    args = parser.parse_args()
    truth = json.loads((args.bench / "ground-truth.json").read_text())
    options = ExtractOptions.of(ExtractConfig())
    settings = FilterFields()
    bare_scores, pipeline_scores, rejected, differing = [], [], [], []
    labels = json.loads(LABELS.read_text(encoding="utf-8"))
    fields: dict[str, list[tuple[bool, bool | None]]] = {
        f: [] for f in ("headline", "authors", "date", "time")
    }
    misses: list[str] = []
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
        if key in labels:
            score_metadata(labels[key], bare, document, fields, misses, key[:10])
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
    print(f"\nmetadata on {len(labels)} labelled pages: accuracy, pipeline vs bare trafilatura")
    for name, results in fields.items():
        mine = sum(r[0] for r in results) / max(len(results), 1)
        theirs = [r[1] for r in results if r[1] is not None]
        bare_share = f"{sum(theirs) / len(theirs):.3f}" if theirs else "n/a (day only)"
        print(f"  {name:9} pipeline {mine:.3f}   bare {bare_share}   ({len(results)} pages)")
    for line in misses[: args.show * 3]:
        print("  miss", line)
    if args.experiment:
        benchmark = [
            (
                truth[key]["url"],
                gzip.decompress((args.bench / "html" / f"{key}.html.gz").read_bytes()),
                truth[key]["articleBody"],
            )
            for key in sorted(truth)
        ]
        experiment([("benchmark", benchmark), ("multilingual", multilingual_pages())], args.ratios)


if __name__ == "__main__":
    main()
