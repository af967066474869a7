"""A labelled corpus of the hard near-duplicate cases, as news pages (tests and bench_dedup_cases.py).

Each family is one article's original page and its copies, one per case:
    syndicated   the whole text on another outlet's template, with a note appended
    partial      another template that wraps part of the body (10-40 % of its paragraphs, at the end) in a
                 block the extractor drops as furniture, and adds its own leftovers to the body: a share
                 prompt and an "Also on ..." teaser (60-90 % of the copy's shingles are in the original)
    cut_edited   a wire copy cut to its first 50-80 % of paragraphs, with 2-3 words changed in each
and one page that must stay apart:
    brief        another article's short brief (a few sentences of its own) that quotes one long paragraph
                 of this one
A family's pages are the same article (pairwise truth); a brief is its own family.
"""

from __future__ import annotations

import html
import itertools
import random
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime

from sites import WORDS, Article, make_article, news_page, syndicated_page

from flows.config import DedupConfig
from flows.dedup.deduplicator import Deduplicator
from flows.extract.options import ExtractOptions
from flows.extract.page import extract_page
from flows.records import Page
from flows.warehouse import Warehouse

CASES = ("syndicated", "partial", "cut_edited")


@dataclass(frozen=True)
class CasePage:
    url: str
    html: str
    family: str
    case: str  # original, one of CASES, or brief


def _edit(paragraph: str, rng: random.Random) -> str:
    words = paragraph.split(" ")
    for _ in range(rng.randint(2, 3)):
        i = rng.randrange(len(words))
        words[i] = rng.choice(WORDS)
    return " ".join(words)


def _partial_page(article: Article, url: str, rng: random.Random) -> str:
    count = len(article.paragraphs)
    kept = max(1, round(count * rng.uniform(0.6, 0.9)))
    body = [f"<p>{html.escape(p)}</p>" for p in article.paragraphs[:kept]]
    rest = "\n".join(f"<p>{html.escape(p)}</p>" for p in article.paragraphs[kept:])

    def headline() -> str:
        return html.escape(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 14))).capitalize())

    # the template's leftovers inside the body: a "read more" teaser mid-text, "also on" teasers at the end
    body.insert(len(body) // 2, f"<p>Read more: {headline()}</p>")
    teasers = "\n".join(f"<p>Also on Daily Mirror Post: {headline()}</p>" for _ in range(rng.randint(2, 5)))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(article.title)} | Daily Mirror Post</title></head>
<body><nav><a href="/">Front</a> <a href="/world">World</a> <a href="/opinion">Opinion</a></nav>
<div class="post"><h1>{html.escape(article.title)}</h1>
<div class="post-content">
{chr(10).join(body)}
<p>Share this story on Facebook, X and WhatsApp with your friends.</p>
{teasers}
<p>Get the day's top stories in your inbox every morning: sign up for our free newsletter today.</p>
</div>
<div class="sidebar related-posts widget">{rest}</div>
</div>
<footer><a href="/terms">Terms</a></footer></body></html>
"""


def _brief_page(quoted: str, seed: int, url: str, rng: random.Random) -> str:
    own = make_article(seed, paragraphs=2)
    paragraphs = [own.paragraphs[0], f"“{quoted}”", own.paragraphs[1]]
    brief = Article(own.slug, own.title, own.author, own.date, paragraphs)
    return news_page(brief, url)


def families(count: int, seed: int = 7, start: int = 1000) -> list[CasePage]:
    """`count` families: an original of 6-10 paragraphs, a copy per case, and a brief quoting it."""
    rng = random.Random(seed)
    pages: list[CasePage] = []
    for n in range(start, start + count):
        article = make_article(n, paragraphs=rng.randint(6, 10))
        family = f"f{n}"
        original = f"https://origin.test/2025/{article.slug}.html"
        pages.append(CasePage(original, news_page(article, original), family, "original"))
        wire = f"https://wire.test/{article.slug}"
        pages.append(
            CasePage(
                wire,
                syndicated_page(article, wire, original, "Republished with permission."),
                family,
                "syndicated",
            )
        )
        mirror = f"https://mirror.test/news/{article.slug}"
        pages.append(CasePage(mirror, _partial_page(article, mirror, rng), family, "partial"))
        cut = max(1, round(len(article.paragraphs) * rng.uniform(0.5, 0.8)))
        edited = Article(
            article.slug,
            article.title,
            article.author,
            article.date,
            [_edit(p, rng) for p in article.paragraphs[:cut]],
        )
        agency = f"https://agency.test/{article.slug}"
        pages.append(CasePage(agency, syndicated_page(edited, agency, agency), family, "cut_edited"))
        longest = max(article.paragraphs, key=len)
        brief = f"https://briefs.test/{article.slug}"
        pages.append(CasePage(brief, _brief_page(longest, n + 500_000, brief, rng), f"b{n}", "brief"))
    return pages


@dataclass
class Report:
    recall: dict[str, float]  # per copy case: share of (original, copy) pairs in one cluster
    precision: dict[
        str, float
    ]  # per case: share of the pairs clustered with a page of that case that are true
    briefs_merged: int
    briefs: int
    pairwise_precision: float
    pairwise_recall: float
    lost: list[str]  # pages that did not extract
    classify_docs_s: float


def evaluate(pages: list[CasePage], options: DedupConfig, warehouse: Warehouse) -> Report:
    """Extract every page as the workers do, classify them with the product's Deduplicator (originals
    first, the rest in a fixed shuffled order), and score the clusters against the families."""
    extract = ExtractOptions(signature=options)
    rows, page_of, lost = [], {}, []
    for page in pages:
        fetched = Page(page.url, page.html.encode(), datetime(2025, 7, 1, tzinfo=UTC), page.url)
        document = extract_page(fetched, extract).document
        if document is None:
            lost.append(page.url)
            continue
        rows.append(document)
        page_of[document["doc_id"]] = page
    random.Random(1).shuffle(rows)
    rows.sort(key=lambda row: page_of[row["doc_id"]].case != "original")
    dedup = Deduplicator(warehouse, options)
    dedup.refresh()
    started = time.perf_counter()
    kept = dedup.classify(rows).kept
    seconds = time.perf_counter() - started
    cluster = {row["doc_id"]: row["cluster_id"] for row in kept}
    counts: Counter[tuple[str, str]] = Counter()  # (case, tp | fp | fn) over pairs with a page of the case
    for a, b in itertools.combinations(cluster, 2):
        first, second = page_of[a], page_of[b]
        same, together = first.family == second.family, cluster[a] == cluster[b]
        outcome = "tp" if same and together else "fp" if together else "fn" if same else None
        if outcome is None:
            continue
        counts["all", outcome] += 1
        for case in {first.case, second.case} - {"original"}:
            counts[case, outcome] += 1

    def precision(case: str) -> float:
        return counts[case, "tp"] / max(counts[case, "tp"] + counts[case, "fp"], 1)

    def recall(case: str) -> float:
        return counts[case, "tp"] / max(counts[case, "tp"] + counts[case, "fn"], 1)

    briefs = [row for row in kept if page_of[row["doc_id"]].case == "brief"]
    return Report(
        recall={case: recall(case) for case in CASES},
        precision={case: precision(case) for case in (*CASES, "brief")},
        briefs_merged=sum(row["duplicate_of"] is not None for row in briefs),
        briefs=len(briefs),
        pairwise_precision=precision("all"),
        pairwise_recall=recall("all"),
        lost=lost,
        classify_docs_s=len(rows) / seconds,
    )
