"""One bad URL costs one row. Malformed URLs in a listing, and pages that redirect to malformed targets,
mixed into one batch with good pages: the good pages are stored, every other URL is one reject row with
its reason, the source completes, and nothing prints a traceback."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from command import corpus
from web_site import SiteServer

from flows.fetch.safety import url_problem
from flows.sources.listing import parse_feed

GOOD = 20

# Shapes of malformed URLs seen in listings and Location headers: {i} makes each one distinct. None of
# them may cost more than its own row (and none needs DNS: a host that parses is an IP literal).
SHAPES = [
    "http://127.0.0.1:99999/{i}",
    "http://127.0.0.1:65536/{i}",
    "http://127.0.0.1:-1/{i}",
    "http://127.0.0.1:80:80/{i}",
    "http://127.0.0.1:8o/{i}",
    "http://a..b/{i}",
    "http://.a{i}.test/",
    "http://" + "x" * 300 + "{i}.test/",
    "http://" + ".".join(["a" * 63] * 4) + "{i}/",
    "http:///{i}",
    "http://[::1/{i}",
    "http://[zz{i}]/",
    "http://[::1]]{i}/",
    "http://exa mple{i}.test/",
    "http://%zz{i}/",
    "http://xn--{i}/",
    "http://xn--a{i}-/",
    "javascript:alert({i})",
    "data:text/html,{i}",
    "ftp://127.0.0.1/{i}",
    "mailto:a{i}@b.test",
    "file:///etc/passwd?{i}",
    "//127.0.0.1/{i}",
    "http:{i}",
    "https://:{i}/",
]


# In a Location header these are relative references that resolve against the page (RFC 3986): fine there.
RELATIVE = ("//127.0.0.1/{i}", "http:{i}", "http:///{i}")


def malformed(count: int, offset: int = 0, shapes: list[str] = SHAPES) -> list[str]:
    return [shapes[n % len(shapes)].format(i=offset + n) for n in range(count)]


@pytest.mark.parametrize("url", malformed(len(SHAPES)))
@pytest.mark.unit
def test_each_shape_is_found_malformed(url: str) -> None:
    assert url_problem(url), url


@pytest.mark.unit
def test_good_urls_pass() -> None:
    for url in (
        "http://127.0.0.1:8000/a",
        "https://example.org/a?b=c#d",
        "http://[::1]:80/",
        "http://straße.de/",
        "https://news.example.co.uk/2025/07/story-title.html",
        "http://a_b.example/",
    ):
        assert url_problem(url) is None, url


@pytest.mark.flow
def test_one_batch_of_twenty_good_pages_and_two_hundred_bad_urls(tmp_path: Path) -> None:
    listed = malformed(100)
    targets = malformed(100, offset=1000, shapes=[s for s in SHAPES if s not in RELATIVE])
    with SiteServer() as site:
        for i in range(GOOD):
            site.set_article(i, seed=500 + i)
        good = [site.article_url(i) for i in range(GOOD)]
        redirecting = []
        for n, target in enumerate(targets):
            site.redirects[f"/r/{n}"] = target
            redirecting.append(f"{site.base}/r/{n}")
        urls = tmp_path / "urls.txt"
        mixed = [u for trio in zip(good * 5, listed, redirecting, strict=False) for u in trio]
        urls.write_text("\n".join(mixed) + "\n", encoding="utf-8")
        config = tmp_path / "sources.toml"
        config.write_text(
            '[warehouse]\npath = "wh"\n[runner]\nbatch_size = 500\n'
            '[[sources]]\nname = "mixed"\nkind = "urls"\nfile = "urls.txt"\nallow_private = true\n'
            "delay = 0\nretries = 0\nconcurrency = 16\nhost_concurrency = 16\n"
            "articles_only = false\n"
        )
        done = corpus("ingest", "-c", config)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    with duckdb.connect(str(tmp_path / "wh" / "corpus.duckdb"), read_only=True) as con:
        status, written = con.execute("select status, written from run_sources").fetchone()  # type: ignore[misc]
        stored = {row[0] for row in con.execute("select url from documents").fetchall()}
        rejects = con.execute("select url, reason from rejects").fetchall()
    assert (status, written) == ("completed", GOOD)
    assert stored == set(good)
    by_url: dict[str, list[str]] = {}
    for url, reason in rejects:
        by_url.setdefault(url, []).append(reason)
    expected = set(listed) | set(redirecting)
    assert set(by_url) == expected, (sorted(set(by_url) - expected)[:5], sorted(expected - set(by_url))[:5])
    assert all(len(reasons) == 1 for reasons in by_url.values())
    assert {by_url[u][0] for u in listed} == {"bad_url"}
    assert {by_url[u][0] for u in redirecting} == {"bad_redirect"}


@pytest.mark.unit
def test_a_feed_item_with_a_malformed_link_is_a_reject_not_a_silence() -> None:
    items = "".join(
        f"<item><title>t{n}</title><link>{url}</link></item>" for n, url in enumerate(malformed(8))
    )
    rss = f'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>{items}' + (
        "<item><title>ok</title><link>http://127.0.0.1/ok</link></item></channel></rss>"
    )
    entries = parse_feed(rss.encode(), "http://127.0.0.1/feed")
    assert [e.url for e in entries if not (e.problem or url_problem(e.url))] == ["http://127.0.0.1/ok"]
    assert len(entries) == 9  # each bad item an entry (a bad_url reject), none dropped in silence
