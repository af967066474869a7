"""Schedules and sources by config: `corpus serve` on a real Prefect server, `sources add` against a real
site on 127.0.0.1, `sources validate`, and runs of one source that must not double."""

from __future__ import annotations

import contextlib
import functools
import re
import signal
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import httpx
import psutil
import pytest
from command import corpus, start_corpus
from filelock import FileLock
from sites import write_site
from web_site import SiteServer

from flows.config import ConfigError, load_config
from flows.ingest import ingest

pytestmark = pytest.mark.timeout(300)


def parquet_count(folder: Path) -> int:
    if not folder.exists() or not any(folder.rglob("*.parquet")):
        return 0
    return duckdb.sql(f"select count(*) from read_parquet('{folder}/**/*.parquet')").fetchone()[0]


# ---- config


@pytest.mark.unit
def test_schedules_from_sources_and_defaults(make_config) -> None:
    config = load_config(
        make_config(
            '[defaults]\ninterval = "15m"\ntimezone = "Europe/Paris"\n'
            '[[sources]]\nname = "a"\nkind = "files"\npath = "*.html"\nschedule = "*/30 * * * *"\n'
            '[[sources]]\nname = "b"\nkind = "files"\npath = "*.html"\n'
        )
    )
    a, b = (config.schedule_of(s) for s in config.sources)
    assert (a.schedule, a.interval, a.timezone) == ("*/30 * * * *", None, "Europe/Paris")
    assert (b.schedule, b.interval) == (None, "15m")
    bare = load_config(make_config('[[sources]]\nname = "a"\nkind = "files"\npath = "*.html"\n', "b.toml"))
    assert bare.schedule_of(bare.sources[0]) is None


BAD_CONFIGS = {
    "unknown kind": ('kind = "ftp"\npath = "x"', "key 'kind': unknown kind 'ftp'"),
    "bad cron": (
        'kind = "files"\npath = "x"\nschedule = "*/30 * * *"',
        "key 'schedule': '*/30 * * *' is not a cron expression",
    ),
    "cron out of range": ('kind = "files"\npath = "x"\nschedule = "61 * * * *"', "key 'schedule'"),
    "bad interval": ('kind = "files"\npath = "x"\ninterval = "often"', "key 'interval'"),
    "both": ('kind = "files"\npath = "x"\ninterval = "5m"\nschedule = "* * * * *"', "not both"),
    "bad timezone": (
        'kind = "files"\npath = "x"\ninterval = "5m"\ntimezone = "Mars/Olympus"',
        "key 'timezone'",
    ),
    "missing url": ('kind = "feed"', "key 'url': missing required key"),
    "duplicate name": (
        'kind = "files"\npath = "x"\n[[sources]]\nname = "s"\nkind = "files"\npath = "y"',
        "duplicate",
    ),
}


@pytest.mark.flow
@pytest.mark.parametrize("case", BAD_CONFIGS, ids=list(BAD_CONFIGS))
def test_sources_validate_names_the_key(case: str, make_config) -> None:
    body, expected = BAD_CONFIGS[case]
    config = make_config(f'[[sources]]\nname = "s"\n{body}\n')
    result = corpus("sources", "validate", "-c", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(config) in lines[0] and expected in lines[0], lines[0]


@pytest.mark.flow
def test_sources_validate_accepts_a_good_config(make_config) -> None:
    config = make_config(
        '[defaults]\nschedule = "0 6 * * 1-5"\n[[sources]]\nname = "s"\nkind = "feed"\n'
        'url = "https://example.org/feed.xml"\n'
    )
    result = corpus("sources", "validate", "-c", str(config))
    assert result.returncode == 0, result.stderr
    assert "ok, 1 source" in result.stdout and "0 6 * * 1-5" in result.stdout


# ---- sources add


@pytest.mark.flow
def test_sources_add_finds_the_feed_keeps_the_file_and_ingests(make_config) -> None:
    original = (
        "# my corpus: hand-written comments must survive\n"
        '[warehouse]\npath = "wh"   # beside this file\n\n'
        '[[sources]]\nname = "local"\nkind = "files"\npath = "pages/*.html"\n\n'
        "[dedup]\nthreshold = 0.6\n"
    )
    config = make_config(original)
    with SiteServer() as site:
        add = ["sources", "add", site.base + "/", "-c", str(config), "--interval", "15m"]
        refused = corpus(*add)
        assert refused.returncode == 2 and "--allow-private" in refused.stderr
        assert config.read_text() == original  # nothing written on failure
        result = corpus(*add, "--allow-private")
        assert result.returncode == 0, result.stderr
        text = config.read_text()
        assert text.startswith(original.split("[dedup]")[0])  # comments, order and spacing kept
        assert text.rstrip().endswith("[dedup]\nthreshold = 0.6") or "[dedup]" in text
        added = load_config(config).sources[-1]
        # everything found, in one source: robots.txt's sitemap index (its news sitemap, also at a usual
        # path, read through it), the feed the page links to
        assert (added.kind, added.url, added.interval) == (
            "sitemap",
            [f"{site.base}/sitemap.xml", f"{site.base}/feed.xml"],
            "15m",
        )
        assert added.name == f"127-0-0-1-{site.base.rsplit(':', 1)[1]}"
        lines = result.stdout.splitlines()
        assert any(
            "sitemap.xml" in line and "robots.txt" in line and "sitemap index" in line for line in lines
        )
        assert any("feed.xml" in line and "linked from the page" in line for line in lines), result.stdout
        assert "sitemap-news.xml" not in result.stdout

        only_feeds = corpus(*add, "--allow-private", "--kind", "feed", "--name", "feeds-only")
        assert only_feeds.returncode == 2  # the feed is read by the first source already
        assert f"source '{added.name}' already reads {site.base}/feed.xml" in only_feeds.stderr

        before = config.read_text()  # the same site again: refused, naming the source that reads it
        twice = corpus(*add, "--allow-private")
        assert twice.returncode == 2, twice.stderr
        assert f"source '{added.name}' already reads {site.base}/feed.xml" in twice.stderr
        errors = [line for line in twice.stderr.splitlines() if not line.startswith("looking for")]
        assert len(errors) == 1 and config.read_text() == before  # beside the progress line, one line

        summary = ingest(str(config), [added.name])
        assert summary.sources[added.name].written == 6, summary.sources[added.name]


@pytest.mark.flow
def test_sources_add_with_nothing_to_find_fails_cleanly(make_config, tmp_path: Path) -> None:
    """A site with pages and no listing anywhere (no feed link, no robots.txt, nothing at the usual paths)."""
    config = make_config('[[sources]]\nname = "s"\nkind = "files"\npath = "x"\n')
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("<html><body><p>Only a page.</p></body></html>")
    handler = functools.partial(QuietFiles, directory=str(tmp_path / "www"))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        before = config.read_text()
        result = corpus("sources", "add", base + "/", "-c", config, "--allow-private")
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "no working feed or sitemap found" in last and "places tried" in last, last
    assert config.read_text() == before


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


# ---- one run per source at a time


@pytest.mark.flow
def test_a_source_already_running_is_skipped_not_doubled(tmp_path: Path, make_config) -> None:
    write_site(tmp_path / "pages", 3)
    config = make_config(
        '[warehouse]\npath = "wh"\n'
        '[[sources]]\nname = "busy"\nkind = "files"\npath = "pages/**/*.html"\nurl_prefix = "https://"\n'
        '[[sources]]\nname = "free"\nkind = "files"\npath = "pages/**/*.html"\nurl_prefix = "https://"\n'
    )
    lock = FileLock(str(tmp_path / "wh" / ".locks" / "source-busy.lock"))
    (tmp_path / "wh" / ".locks").mkdir(parents=True)
    with lock:  # as a run of "busy" in another process would hold it
        summary = ingest(str(config))
    assert summary.ok
    assert summary.sources["busy"].status == "skipped" and summary.sources["busy"].seen == 0
    assert summary.sources["free"].status == "completed" and summary.sources["free"].written == 3
    catalog = summary.catalog
    with duckdb.connect(catalog, read_only=True) as con:
        rows = con.sql("select source, status from run_sources order by source").fetchall()
    assert rows == [("busy", "skipped"), ("free", "completed")]


# ---- corpus serve on a real Prefect server


def start_serve(config: Path, grace: str = "20") -> tuple[subprocess.Popen, Output]:
    """`corpus serve` on a free port with its own local Prefect server; its output collected."""
    serve = start_corpus(
        "serve",
        "-c",
        config,
        "--port",
        "0",
        env={"PREFECT_API_URL": None, "CORPUS_SERVE_STOP_GRACE": grace},
        stderr=subprocess.STDOUT,
    )
    output = Output(serve.stdout)
    output.start()
    return serve, output


class Output(threading.Thread):
    """Collects a process's output lines as they come."""

    def __init__(self, stream) -> None:
        super().__init__(daemon=True)
        self.stream, self.lines = stream, []

    def run(self) -> None:
        for line in self.stream:
            self.lines.append(line)

    def text(self) -> str:
        return "".join(self.lines)


@pytest.mark.e2e
@pytest.mark.parametrize("grace", ["20", "0"], ids=["graceful", "last-resort"])
def test_serve_runs_a_scheduled_source_then_stops_cleanly(tmp_path: Path, make_config, grace: str) -> None:
    """Also with no grace at all: the last-resort stop (used when the runner's own shutdown hangs) pauses
    the schedules, stops the server and exits 0 too."""
    write_site(tmp_path / "pages", 4)
    config = make_config(
        '[warehouse]\npath = "wh"\n[extract]\nprocesses = 1\n'
        '[[sources]]\nname = "news"\nkind = "files"\npath = "pages/**/*.html"\nurl_prefix = "https://"\n'
        'interval = "3s"\n'
        '[[sources]]\nname = "manual"\nkind = "files"\npath = "pages/**/*.html"\nurl_prefix = "https://"\n'
    )
    serve, output = start_serve(config, grace)
    documents = tmp_path / "wh" / "documents"
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and parquet_count(documents) < 4:
            assert serve.poll() is None, output.text()
            time.sleep(1)
        assert parquet_count(documents) == 4, output.text()
        match = re.search(r"local Prefect server: (http://127\.0\.0\.1:\d+)", output.text())
        assert match, output.text()
        api = match.group(1) + "/api"
        # the server knows the deployment, and the run left its summary as a markdown artifact
        deployments = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        assert [d["name"] for d in deployments] == ["news"]
        artifact = {}
        while time.monotonic() < deadline and not artifact:
            found = httpx.post(f"{api}/artifacts/filter", json={}, timeout=10).json()
            artifact = next((a for a in found if a["key"] == "ingest-news"), {})
            time.sleep(0.5)
        assert "| news | completed |" in artifact["data"], artifact
        children = psutil.Process(serve.pid).children(recursive=True)
        assert children  # the server (and maybe a flow run)
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            code = serve.wait(60)
        except subprocess.TimeoutExpired:
            stuck = _process_tree(serve.pid)
            serve.kill()
            pytest.fail(
                f"serve did not stop within 60 s of SIGTERM; processes: {stuck}\n{output.text()[-4000:]}"
            )
    output.join(5)
    assert code == 0, output.text()
    if grace == "0":
        assert "did not stop within 0 s" in output.text()
    assert "Traceback" not in output.text(), output.text()
    _, alive = psutil.wait_procs(children, timeout=15)  # orphans end on their own SIGTERM
    assert not [c for c in alive if c.status() != psutil.STATUS_ZOMBIE], [c.cmdline() for c in alive]
    with contextlib.suppress(httpx.HTTPError):
        httpx.get(f"{api}/health", timeout=2)
        pytest.fail("the Prefect server still answers after serve stopped")
    with duckdb.connect(str(tmp_path / "wh" / "corpus.duckdb"), read_only=True) as con:
        sources = {r[0] for r in con.sql("select source from run_sources").fetchall()}
    assert sources == {"news"}  # only the scheduled source ran


@pytest.mark.e2e
def test_a_killed_serve_leaves_no_prefect_server(tmp_path: Path, make_config) -> None:
    """SIGKILL (the OOM killer, a hung stop killed by a service manager) gives serve no chance to stop its
    server: the kernel does (PR_SET_PDEATHSIG)."""
    write_site(tmp_path / "pages", 1)
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "news"\nkind = "files"\npath = "pages/**/*.html"\n'
        'url_prefix = "https://"\nschedule = "0 3 * * *"\n'
    )
    serve, output = start_serve(config)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and "serving on" not in output.text():
            assert serve.poll() is None, output.text()
            time.sleep(0.5)
        servers = [c for c in psutil.Process(serve.pid).children() if _runs(c, "server")]
        assert servers, output.text()
    finally:
        serve.kill()
        serve.wait(10)
    _, alive = psutil.wait_procs(servers, timeout=30)
    assert not alive, [p.cmdline() for p in alive]


def _runs(process: psutil.Process, word: str) -> bool:
    """`word` is in the process' command line; a child that has just ended (a zombie until reaped) or
    gone runs nothing."""
    try:
        return word in " ".join(process.cmdline())
    except psutil.Error:
        return False


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell does for `corpus serve &`


@pytest.mark.e2e
def test_idle_serve_stops_on_sigterm_within_5_s_ten_times(tmp_path: Path, make_config) -> None:
    """The normal stop, not the last resort (grace 60 s): SIGTERM while idle ends serve with status 0 within
    5 s, ten times in a row, half of them started the way a shell starts a background job (SIGINT ignored:
    the case that used to wait for the last resort every time). One Prefect server for all ten, through
    PREFECT_API_URL, so each start costs only the runner's."""
    from flows.prefect_server import local_server

    write_site(tmp_path / "pages", 1)
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "news"\nkind = "files"\npath = "pages/**/*.html"\n'
        'url_prefix = "https://"\ninterval = "1h"\n'
    )
    with local_server(tmp_path / "prefect", 0) as server:
        env = {"PREFECT_API_URL": server.api_url, "CORPUS_SERVE_STOP_GRACE": "60"}
        for attempt in range(10):
            serve = start_corpus(
                "serve",
                "-c",
                config,
                env=env,
                stderr=subprocess.STDOUT,
                preexec_fn=_ignore_sigint if attempt % 2 else None,
            )
            output = Output(serve.stdout)
            output.start()
            try:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and "serving on" not in output.text():
                    assert serve.poll() is None, output.text()
                    time.sleep(0.1)
                time.sleep(0.2 * attempt)  # from before the runner starts to while it polls
                assert serve.poll() is None, output.text()
                serve.send_signal(signal.SIGTERM)
                started = time.monotonic()
                code = serve.wait(30)
                took = time.monotonic() - started
            finally:
                if serve.poll() is None:
                    serve.kill()
                    serve.wait(10)
            output.join(5)
            assert code == 0, f"attempt {attempt}: {output.text()}"
            assert took < 5, f"attempt {attempt}: stopped after {took:.1f} s\n{output.text()}"
            assert "did not stop within" not in output.text() and "Traceback" not in output.text()
            assert output.text().rstrip().endswith("stopped"), output.text()
            found = httpx.post(f"{server.api_url}/deployments/filter", json={}, timeout=10).json()
            # schedules paused (none registered yet when the SIGTERM came before the runner started)
            assert [d["name"] for d in found if not d["paused"]] == [], found


@pytest.mark.e2e
def test_serve_stops_right_after_the_run_in_progress(tmp_path: Path, make_config) -> None:
    """SIGTERM during a run (a page that takes 6 s to arrive): the run completes and is recorded, then serve
    exits 0 by itself, without the last resort (grace 60 s) and without waiting for the next schedule."""
    with SiteServer() as site:
        site.slow_seconds = 6.0
        config = make_config(
            '[warehouse]\npath = "wh"\n[[sources]]\nname = "slow"\nkind = "urls"\n'
            f'urls = ["{site.base}/slow.html"]\nallow_private = true\ntimeout = 30\ninterval = "5s"\n'
        )
        serve, output = start_serve(config, grace="60")
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and not site.requests_for("/slow.html"):
                assert serve.poll() is None, output.text()
                time.sleep(0.1)
            assert site.requests_for("/slow.html"), output.text()  # the run is fetching the slow page
            serve.send_signal(signal.SIGTERM)
            code = serve.wait(60)
        finally:
            if serve.poll() is None:
                serve.kill()
                serve.wait(10)
    output.join(5)
    text = output.text()
    assert code == 0, text
    assert "stopping after the 1 run in progress" in text, text
    assert "did not stop within" not in text and "Traceback" not in text, text
    with duckdb.connect(str(tmp_path / "wh" / "corpus.duckdb"), read_only=True) as con:
        assert con.sql("select status, written from runs").fetchall() == [("completed", 1)]


@pytest.mark.flow
def test_serve_without_schedules_says_so(make_config) -> None:
    config = make_config('[[sources]]\nname = "s"\nkind = "files"\npath = "x"\n')
    result = corpus("serve", "-c", str(config))
    assert result.returncode == 2
    assert "no enabled source has a schedule" in result.stderr


@pytest.mark.unit
def test_config_error_type_is_one_line(make_config) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(make_config('[defaults]\nschedule = "every day"\n'))
    assert "\n" not in str(info.value) and "key 'defaults.schedule'" in str(info.value)


def _process_tree(pid: int) -> list[str]:
    """Each process under pid: its status and command line (to tell what kept a stop waiting)."""
    try:
        processes = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []
    described = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            described.append(f"{process.pid} {process.status()} {' '.join(process.cmdline())[:160]}")
    return described
