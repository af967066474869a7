"""Near-duplicate clusters through real flow runs: which copies join an article, which pages stay apart,
and that clusters hold across runs. Plus the quality filters."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import duckdb
import numpy as np
import pytest
from command import corpus, start_corpus
from sites import make_article, news_page, syndicated_page

from flows.config import DedupConfig
from flows.dedup.near import (
    LEAD_ROWS,
    LEAD_SEED,
    SEED,
    Content,
    ParagraphCounts,
    _bands,
    compare,
    content,
    paragraph_hashes,
    profile,
    signature,
)
from flows.ingest import ingest

ORIGINAL = "https://news.test/world/original.html"  # no year in it: copies get no date from their links


# Reference implementations, written plainly: the product computes the same values faster (signature,
# line_shingle_ids), and these tests hold it to them.
def shingles(text: str, words: int) -> list[str]:
    """Overlapping runs of `words` lowercase words (punctuation ignored)."""
    tokens = re.findall(r"\w+", text.lower())
    if len(tokens) <= words:
        return [" ".join(tokens)] if tokens else []
    return [" ".join(tokens[i : i + words]) for i in range(len(tokens) - words + 1)]


def shingle_set(text: str, words: int) -> np.ndarray:
    """Sorted unique 64-bit ids of the text's shingles (Python's string hash: valid within one process)."""
    return np.unique(np.fromiter((hash(s) for s in shingles(text, words)), dtype=np.int64))


def band_hashes(text: str, options: DedupConfig) -> list[int]:
    """The text's LSH band hashes from its shingles, the whole text's then its lead's (the shingles
    starting in its first `lead_words` words); [] for a text with no words."""
    grams = shingles(text, options.shingle_words)
    whole = _bands(grams, options.num_perm, options.bands, SEED)
    if not whole or not options.lead_bands:
        return whole
    lead = grams[: max(1, options.lead_words - options.shingle_words + 1)]
    return whole + _bands(lead, options.lead_bands * LEAD_ROWS, options.lead_bands, LEAD_SEED)


def shingle_content(text: str, words: int) -> Content:
    """The text as verification compares it, no paragraph being furniture."""
    return content(profile(text, words), ParagraphCounts(frequent=2))


def query(catalog: str, sql: str) -> list[tuple]:
    with duckdb.connect(catalog, read_only=True) as con:
        return con.execute(sql).fetchall()


def write(root: Path, url: str, html: str) -> None:
    path = root / url.removeprefix("https://")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")


@pytest.fixture
def variants(tmp_path: Path, make_config) -> Path:
    """An article and its variants in first/, more copies in later/ (for a second run)."""
    article = make_article(1, paragraphs=8)
    first = tmp_path / "first"
    write(first, ORIGINAL, news_page(article, ORIGINAL))
    # exact copy under another URL, same template
    write(first, "https://news.test/zprint/original.html", news_page(article, "https://news.test/x"))
    # syndicated: another outlet's template
    write(
        first, "https://wire.test/s/1.html", syndicated_page(article, "https://wire.test/s/1.html", ORIGINAL)
    )
    # edited update: a few words changed, a paragraph added
    edited = dataclasses.replace(
        article,
        date="2025-12-01",
        paragraphs=[
            "Officials said on Monday that " + article.paragraphs[0].lower(),
            *article.paragraphs[1:],
            "Update: officials confirmed the figures on Tuesday after the report was first published.",
        ],
    )
    write(
        first, "https://daily.test/2025/update.html", news_page(edited, "https://daily.test/2025/update.html")
    )
    # cut short: the last three paragraphs dropped
    short = dataclasses.replace(article, paragraphs=article.paragraphs[:5])
    write(
        first, "https://brief.test/a/1.html", syndicated_page(short, "https://brief.test/a/1.html", ORIGINAL)
    )
    # two other articles on the original's own template: must stay apart from it and from each other
    for seed in (2, 3):
        other = make_article(seed, paragraphs=8)
        write(
            first, f"https://news.test/2025/other-{seed}.html", news_page(other, f"https://news.test/o{seed}")
        )
    # a short article that quotes one long paragraph of the original: apart
    quoting = make_article(4, paragraphs=3)
    quoting = dataclasses.replace(quoting, paragraphs=[*quoting.paragraphs, f"“{article.paragraphs[2]}”"])
    write(first, "https://opinion.test/q.html", news_page(quoting, "https://opinion.test/q.html"))
    # a later run: one more syndicated copy
    later = tmp_path / "later"
    write(
        later,
        "https://mirror.test/m/1.html",
        syndicated_page(article, "https://mirror.test/m/1.html", ORIGINAL),
    )
    return make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "first"\nkind = "files"\npath = "first/**/*.html"\nurl_prefix = "https://"\n'
        '[[sources]]\nname = "later"\nkind = "files"\npath = "later/**/*.html"\nurl_prefix = "https://"\n'
    )


def clusters(catalog: str) -> dict[str, str]:
    return dict(query(catalog, "select url, cluster_id from documents"))


@pytest.mark.flow
def test_copies_join_one_cluster_and_others_stay_apart(variants: Path) -> None:
    summary = ingest(str(variants), sources=["first"])
    catalog = summary.catalog
    found = clusters(catalog)
    article = found[ORIGINAL]
    for copy in (
        "https://news.test/zprint/original.html",
        "https://wire.test/s/1.html",
        "https://daily.test/2025/update.html",
        "https://brief.test/a/1.html",
    ):
        assert found[copy] == article, copy
    apart = [found[f"https://news.test/2025/other-{s}.html"] for s in (2, 3)] + [
        found["https://opinion.test/q.html"]
    ]
    assert len({article, *apart}) == 4
    assert query(catalog, f"select copies, url from articles where cluster_id = '{article}'") == [
        (5, ORIGINAL)
    ]
    assert query(catalog, "select count(*) from articles") == [(4,)]
    similarity = dict(
        query(catalog, f"select url, similarity from duplicates where cluster_id = '{article}'")
    )
    assert len(similarity) == 5 and list(similarity.values()).count(None) == 1  # the cluster's first document
    # the others carry their verified similarity to the page they matched (which page came first depends
    # on the order the workers finished in): exact copies 1.0, edited and cut-short copies less
    values = sorted(v for v in similarity.values() if v is not None)
    assert values[0] < 0.75 and values[-1] == 1.0 and all(v > 0.3 for v in values)

    # a later run's copy joins the earlier cluster; ingesting everything again changes no cluster id
    later = ingest(str(variants), sources=["later"])
    assert later.sources["later"].duplicates == 1
    assert clusters(catalog)["https://mirror.test/m/1.html"] == article
    before = clusters(catalog)
    again = ingest(str(variants))
    assert sum(s.written for s in again.sources.values()) == 0
    assert clusters(catalog) == before
    assert query(
        catalog, f"select copies, list_sort(sources) from articles where cluster_id = '{article}'"
    ) == [(6, ["first", "later"])]


@pytest.mark.flow
def test_cluster_ids_are_the_same_in_a_fresh_warehouse(variants: Path, tmp_path: Path) -> None:
    one = ingest(str(variants), warehouse=str(tmp_path / "one"))
    two = ingest(str(variants), warehouse=str(tmp_path / "two"))
    assert clusters(one.catalog) == clusters(two.catalog)


@pytest.mark.flow
def test_representative_priority(variants: Path, make_config, tmp_path: Path) -> None:
    text = variants.read_text().replace('name = "later"\n', 'name = "later"\npriority = 10\n')
    config = make_config(text, name="priority.toml")
    summary = ingest(str(config))
    [(url,)] = query(
        summary.catalog,
        f"select url from articles where cluster_id = '{clusters(summary.catalog)[ORIGINAL]}'",
    )
    assert url == "https://mirror.test/m/1.html"  # the priority source wins over the earliest published


@pytest.mark.flow
def test_signatures_stored_before_lead_bands_still_find_their_copies(variants: Path) -> None:
    """A warehouse written before lead signatures existed holds 32 band hashes per document: a later run
    with the default (whole + lead) signatures reads them and still joins a new copy to their cluster."""
    text = variants.read_text()
    old = variants.with_name("old.toml")
    old.write_text(text + "[dedup]\nlead_bands = 0\n", encoding="utf-8")
    first = ingest(str(old), sources=["first"])
    lengths = query(
        first.catalog,
        f"select distinct len(bands) from read_parquet('{variants.parent / 'wh'}/signatures/**/*.parquet')",
    )
    assert lengths == [(32,)]
    article = clusters(first.catalog)[ORIGINAL]
    later = ingest(str(variants), sources=["later"])
    assert later.sources["later"].duplicates == 1
    assert clusters(first.catalog)["https://mirror.test/m/1.html"] == article


@pytest.mark.unit
def test_similarity_measures() -> None:
    article = make_article(7, paragraphs=8)
    text = "\n".join(article.paragraphs)
    cut = "\n".join(article.paragraphs[:4])
    a, b = shingle_content(text, 5), shingle_content(cut, 5)
    measured = compare(a, b)
    assert measured.containment > 0.95 and measured.jaccard < 0.7
    assert measured.same_article(DedupConfig())
    other = shingle_content("\n".join(make_article(8, paragraphs=8).paragraphs), 5)
    unrelated = compare(a, other, DedupConfig())
    assert unrelated.jaccard < 0.05 and not unrelated.same_article(DedupConfig())
    bands = band_hashes(text, DedupConfig())
    assert len(bands) == 32 + 16 and bands == band_hashes(text, DedupConfig())  # deterministic
    assert np.array_equal(shingle_set(text.upper(), 5), shingle_set(text, 5))  # case, punctuation ignored


@pytest.mark.unit
def test_paragraph_spread_joins_an_edited_copy_and_keeps_a_quote_apart() -> None:
    """A copy whose paragraphs each carry a few edits shares too few whole shingles for containment,
    yet most of its paragraphs are mostly found in the original; a brief quoting one paragraph is not."""
    article = make_article(11, paragraphs=8)
    original = shingle_content("\n".join(article.paragraphs), 5)
    edited_lines = []
    for paragraph in article.paragraphs[:6]:
        words = paragraph.split()
        for at in (len(words) // 4, len(words) // 2, 3 * len(words) // 4):
            words[at] = "changed"
        edited_lines.append(" ".join(words))
    edited = shingle_content("\n".join(edited_lines), 5)
    options = DedupConfig()
    measured = compare(edited, original, options)
    assert measured.containment < options.containment  # containment alone would miss it
    assert measured.spread >= options.spread and measured.same_article(options)
    brief_text = "\n".join([*make_article(12, paragraphs=3).paragraphs, max(article.paragraphs, key=len)])
    brief = compare(shingle_content(brief_text, 5), original, options)
    assert brief.paragraphs <= 1 and not brief.same_article(options)


@pytest.mark.unit
def test_worker_signature_matches_the_commit_steps_own_hashes() -> None:
    """The workers hash bands and paragraphs in one pass; the commit step and stored signatures rely on
    both being exactly what band_hashes and paragraph_hashes give for the text."""
    texts = [
        "\n".join(make_article(3, paragraphs=6).paragraphs),
        "İSTANBUL ŞEHİR, Ünïcode!\n\nÀ la carte — naïve café\nfour short words here",
        "one",
        "",
        "a\nb\nc d e f g h",
    ]
    options = DedupConfig()
    for text in texts:
        hashes = signature(text, options)
        assert hashes.bands == band_hashes(text, options), text
        assert hashes.paragraphs == paragraph_hashes(text).tolist(), text
        given = profile(text, options.shingle_words, hashes.paragraphs)
        computed = profile(text, options.shingle_words)
        assert np.array_equal(given.paragraphs, computed.paragraphs)
        assert np.array_equal(given.shingle_ids, computed.shingle_ids)
    assert signature("", options).bands == [] and signature("one", options).paragraphs


@pytest.mark.flow
def test_quality_filters(tmp_path: Path, make_config) -> None:
    root = tmp_path / "site"
    article = make_article(11)
    write(root, "https://news.test/2025/story.html", news_page(article, "https://news.test/2025/story.html"))
    # a tag page: it declares no article (the article template's article:published_time taken out)
    tag_page = news_page(make_article(12), "https://news.test/tag/economy.html")
    write(root, "https://news.test/tag/economy.html", tag_page.replace("article:published_time", "x"))
    write(
        root,
        "https://news.test/2025/brief.html",
        news_page(make_article(13, paragraphs=1), "https://news.test/b"),
    )
    # declared French and written in French (a declaration the text contradicts is overruled by it)
    own = make_article(14)
    french_text = (
        "Le gouvernement a annoncé lundi de nouvelles mesures pour lutter contre l'inflation, qui touche "
        "surtout les ménages les plus modestes et les petites entreprises de la région. "
    )
    later = french_text.replace("lundi", "mardi")
    paragraphs = [f"{n}. {french_text}{later}" for n in range(len(own.paragraphs))]
    french_article = dataclasses.replace(own, paragraphs=paragraphs)
    french = news_page(french_article, "https://news.test/2025/fr.html").replace('lang="en"', 'lang="fr"')
    write(root, "https://news.test/2025/fr.html", french)
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "s"\nkind = "files"\npath = "site/**/*.html"\n'
        'url_prefix = "https://"\nmin_words = 120\nlanguages = ["en"]\n'
    )
    summary = ingest(str(config))
    assert summary.sources["s"].written == 1
    reasons = dict(query(summary.catalog, "select url, reason from rejects"))
    assert reasons == {
        "https://news.test/tag/economy.html": "not_article",
        "https://news.test/2025/brief.html": "too_short",
        "https://news.test/2025/fr.html": "language",
    }


@pytest.mark.e2e  # two ingest processes at once
def test_overlapping_runs_make_one_cluster_per_article(tmp_path: Path, make_config) -> None:
    """Two ingest processes at once, on sources that share articles: the commit step is serialised across
    processes, so each article is one cluster, as when the runs go one after the other."""
    import subprocess

    for side, host in (("a", "left.test"), ("b", "right.test")):
        for seed in range(20, 32):
            article = make_article(seed, paragraphs=8)
            url = f"https://{host}/2025/{seed}.html"
            page = news_page(article, url) if side == "a" else syndicated_page(article, url, url)
            write(tmp_path / side, url, page)
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "a"\nkind = "files"\npath = "a/**/*.html"\nurl_prefix = "https://"\n'
        '[[sources]]\nname = "b"\nkind = "files"\npath = "b/**/*.html"\nurl_prefix = "https://"\n'
        "[runner]\nbatch_size = 2\n"  # many small commits, so that the two runs interleave
    )
    runs = [
        start_corpus("ingest", "-c", config, "-s", name, stdout=subprocess.DEVNULL) for name in ("a", "b")
    ]
    assert [run.wait(timeout=240) for run in runs] == [0, 0]
    catalog = str(tmp_path / "wh" / "corpus.duckdb")
    assert corpus("views", "-c", config).returncode == 0
    assert query(catalog, "select count(*), min(copies), max(copies) from articles") == [(12, 2, 2)]
    assert query(catalog, "select count(distinct cluster_id) from documents") == [(12,)]
    # the same as one run after the other (in another warehouse): same articles, same groups of pages
    for name in ("a", "b"):
        assert corpus("ingest", "-c", config, "-s", name, "-w", tmp_path / "wh2").returncode == 0
    sequential = str(tmp_path / "wh2" / "corpus.duckdb")
    groups = "select list(url order by url) from documents group by cluster_id order by 1"
    assert query(catalog, groups) == query(sequential, groups)
    titles = "select title, copies from articles order by title"
    assert query(catalog, titles) == query(sequential, titles)


def _store(index, members: list) -> None:
    """Record members in the dedup index as a commit does (their files published)."""
    with index.absorbing() as absorption:
        absorption.members(
            np.asarray([int(m.doc_id, 16) for m, _ in members], np.uint64),
            np.asarray([int(m.cluster_id, 16) for m, _ in members], np.uint64),
            [m.doc_file for m, _ in members],
            np.asarray([b for _, b in members], np.uint32),
            (np.empty(0, np.int64), np.empty(0, np.int64)),
        )


@pytest.mark.unit
def test_band_index_finds_members_stored_and_recent(tmp_path) -> None:
    """Members recorded in the index on disk and members added since: each stays findable by any of its
    bands, with its cluster and its file."""
    from flows.dedup.index import DedupIndex
    from flows.dedup.near import BandIndex, Member

    disk = DedupIndex(str(tmp_path / "index.sqlite"), {}, 8)
    index = BandIndex(bands=3, index=disk)
    rng = np.random.default_rng(7)
    members = []
    for i in range(41):
        bands = [int(v) for v in rng.integers(0, 2**32, size=3)]
        member = Member(f"{i:016x}", f"{i % 5:016x}", "" if i >= 30 else f"file-{i // 10}.parquet")
        index.add(member, bands)
        members.append((member, bands))
        if i == 29:  # the first 30 committed
            _store(disk, members)
            index.recorded()
    assert index.size == 41 and disk.size()["members"] == 30
    for member, bands in members:
        for band in range(3):
            lookup = [0] * 3
            lookup[band] = bands[band]
            found = {m.doc_id: m for m in index.candidates(lookup)}
            assert member.doc_id in found
            assert found[member.doc_id].cluster_id == member.cluster_id
            assert found[member.doc_id].doc_file == member.doc_file


@pytest.mark.unit
def test_band_index_candidates_are_every_member_sharing_a_band_in_band_order(tmp_path) -> None:
    """With few distinct band values (many members share each), members recorded over several commits and
    members added since: candidates are exactly the members sharing a band with the query, each once, in
    band order (by band, the older members first): the order decides between equally similar candidates.
    Doc ids are drawn at random, so that the index's key order is not the order of arrival."""
    from flows.dedup.index import DedupIndex
    from flows.dedup.near import BandIndex, Member

    disk = DedupIndex(str(tmp_path / "index.sqlite"), {}, 8)
    rng = np.random.default_rng(11)
    index, members, unrecorded = BandIndex(bands=8, index=disk), [], []
    for i in range(140):
        bands = rng.integers(0, 12, size=8).tolist()
        query = rng.integers(0, 16, size=8).tolist()
        expected = []
        for band in range(8):
            expected += [m.doc_id for m, b in members if b[band] == query[band] and m.doc_id not in expected]
        assert [m.doc_id for m in index.candidates(query)] == expected
        doc_id = f"{int(rng.integers(0, 2**63)):016x}"
        member = Member(doc_id, doc_id, f"part-{i // 30}.parquet")
        index.add(member, bands)
        members.append((member, bands))
        unrecorded.append((member, bands))
        if i % 30 == 29:
            _store(disk, unrecorded)
            index.recorded()
            unrecorded = []
    assert disk.size()["members"] == 120


@pytest.mark.unit
def test_shingle_ids_stand_for_the_shingles_of_each_line() -> None:
    """A profile's ids are made from word hashes, not shingle strings: equal shingles get equal ids, and
    two texts share as many ids as they share shingles (a shingle never spans a line break)."""

    def strings(text: str) -> list[tuple[str, int]]:  # (shingle, its line), spelled out
        lines = [t for line in text.split("\n") if (t := re.findall(r"\w+", line.lower()))]
        out = []
        for index, tokens in enumerate(lines):
            grams = [tokens] if len(tokens) <= 5 else [tokens[i : i + 5] for i in range(len(tokens) - 4)]
            out += [(" ".join(g), index) for g in grams]
        return out

    texts = [
        "\n".join(make_article(21, paragraphs=8).paragraphs),
        "\n".join(make_article(21, paragraphs=8).paragraphs[2:6]) + "\nA closing line of five words.",
        "one\ntwo words\nthree little words\nfour and then five words\nexactly five words in line",
        "Crossing the break: a b c\nd e f g h i",
        "",
    ]
    profiles = [profile(text, 5) for text in texts]
    for text, made in zip(texts, profiles, strict=True):
        spelled = strings(text)
        assert len(made.shingle_ids) == len(spelled)
        assert sorted(made.shingle_paragraph.tolist()) == sorted(line for _, line in spelled)
        assert len(set(made.shingle_ids.tolist())) == len({s for s, _ in spelled})
    for a in range(len(texts)):
        for b in range(len(texts)):
            shared = {s for s, _ in strings(texts[a])} & {s for s, _ in strings(texts[b])}
            ids = set(profiles[a].shingle_ids.tolist()) & set(profiles[b].shingle_ids.tolist())
            assert len(ids) == len(shared), (a, b)


@pytest.mark.unit
def test_band_hashes_are_the_stored_format() -> None:
    """Stored signatures are compared with new ones across runs and versions: the band hashes of a text
    must never change (shingle spelling, MinHash seed, band folding)."""
    text = (
        "The quick brown fox jumps over the lazy dog.\n"
        "Second line, with some more words in it for shingles.\nShort"
    )
    bands = band_hashes(text, DedupConfig())
    assert bands[32:] == [  # the lead's (added later: stored signatures of 32 bands are still read)
        2504962089, 3304685256, 114103304, 305851324, 3933759607, 278928249, 1949263106, 2706782919,
        1443685417, 2263642473, 3498432981, 2686191436, 3742661935, 2084054936, 2717831935, 1856460461,
    ]  # fmt: skip
    assert bands[:32] == [
        3890937280,
        1207043802,
        15316828,
        197307161,
        3484091792,
        1651260576,
        1864734355,
        3149754184,
        207731359,
        783274215,
        839059760,
        2767135132,
        830880972,
        155069057,
        3921367087,
        3573301411,
        3301167973,
        2242876383,
        1365625931,
        3346337577,
        2187430697,
        4045646939,
        1098611916,
        3819149402,
        2296456239,
        61384273,
        194985915,
        1390276658,
        2636964467,
        4236659263,
        745115190,
        1802243021,
    ]
