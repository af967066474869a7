"""Bad input at the command line ends as one line naming what and where, with the documented exit code,
and before any work starts."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from command import corpus


@pytest.mark.flow
def test_a_misspelt_key_anywhere_gets_a_suggestion(make_config) -> None:
    cases = {
        "sorces = 1\n": "key 'sorces': unknown key (did you mean 'sources'?)",
        "[dedup]\nthreshhold = 0.5\n": "key 'dedup.threshhold': unknown key (did you mean 'threshold'?)",
        '[[sources]]\nname = "a"\nkind = "files"\npath = "x/*.html"\nurl_prefx = "https://"\n': (
            "source 'a': key 'url_prefx': unknown key (did you mean 'url_prefix'?)"
        ),
        "bogus = 1\n": "key 'bogus': unknown key",
    }
    for body, message in cases.items():
        config = make_config(body)
        done = corpus("sources", "validate", "--config", str(config))
        assert done.returncode == 2, body
        assert done.stderr.strip().splitlines() == [f"error: {config}: {message}"], done.stderr


@pytest.mark.flow
def test_an_ingest_with_no_enabled_source_says_so_at_once(make_config) -> None:
    config = make_config('[[sources]]\nname = "a"\nkind = "files"\npath = "x/*.html"\nenabled = false\n')
    started = time.monotonic()
    done = corpus("ingest", "--config", str(config))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {config}: no enabled source (set enabled = true on one, or name one with --source)"
    ]
    assert time.monotonic() - started < 15  # no Prefect server was started for nothing


@pytest.mark.flow
def test_a_source_that_cannot_be_discovered_is_one_line_not_a_traceback(make_config) -> None:
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "a"\nkind = "files"\npath = "nothing/*.html"\n'
    )
    done = corpus("ingest", "--config", str(config))
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: source 'a': no .html/.htm/.html.gz files match '{config.parent / 'nothing' / '*.html'}'"
    ], done.stderr


@pytest.mark.flow
@pytest.mark.parametrize("case", ["html", "unreachable"])
def test_a_feed_that_is_html_or_unreachable_is_one_line(make_config, tmp_path: Path, case: str) -> None:
    """Seen: 263 lines with a chained `RuntimeError: no running event loop` for each of these."""
    import functools
    import http.server
    import socket
    import threading

    (tmp_path / "feed.xml").write_text("<html><body><p>not a feed</p></body></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    url, expected = {
        "html": (f"http://127.0.0.1:{server.server_port}/feed.xml", "not a valid feed"),
        "unreachable": (f"http://127.0.0.1:{closed}/feed.xml", "connect_error"),
    }[case]
    try:
        config = make_config(
            f'[warehouse]\npath = "wh"\n[[sources]]\nname = "f"\nkind = "feed"\nurl = "{url}"\n'
            "allow_private = true\n"
        )
        done = corpus("ingest", "--config", str(config))
        assert done.returncode == 1
        assert "Traceback" not in done.stderr + done.stdout
        errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and errors[0].startswith(f"error: source 'f': feed {url}: "), done.stderr
        assert expected in errors[0]
    finally:
        server.shutdown()


@pytest.mark.flow
def test_reextract_of_a_files_source_is_one_line(make_config) -> None:
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "a"\nkind = "files"\npath = "x/*.html"\n'
    )
    done = corpus("reextract", "--config", str(config), "--source", "a")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: source 'a' is not a web source (feed, sitemap, urls): run `corpus ingest` for it"
    ]


@pytest.mark.e2e
def test_the_temporary_servers_output_goes_to_its_log(make_config, temporary_server: None) -> None:
    """The CLI sends Prefect's temporary server's output to PREFECT_HOME/temporary-server.log (its
    shutdown tracebacks once followed the run's summary); the method it mirrors is Prefect's own, as
    pinned: a Prefect upgrade that changes it fails here instead of drifting."""
    import hashlib
    import inspect

    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import get_current_settings

    source = inspect.getsource(SubprocessASGIServer._run_uvicorn_command)
    assert hashlib.sha256(source.encode()).hexdigest() == (
        "ade91366329f9f14fa49035c1801a6f63c240e439adb65efef67a96ce3f524c6"
    )
    log = Path(get_current_settings().home) / "temporary-server.log"
    log.unlink(missing_ok=True)
    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "a"\nkind = "files"\n'
        f'path = "{Path(__file__).resolve().parents[1] / "seeds" / "sample" / "**" / "*.html"}"\n'
        'url_prefix = "https://"\n'
    )
    done = corpus("ingest", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert log.exists()  # the server was started with its output there


@pytest.mark.flow
def test_a_run_reporting_to_a_server_does_not_load_prefects_server() -> None:
    """Quieting the temporary server imports Prefect's server package (~4 s): only when one will start."""
    import subprocess
    import sys

    probe = (
        "import sys; from flows import prefect_settings; prefect_settings.quiet_temporary_server(); "
        "print('prefect.server.api.server' in sys.modules)"
    )
    for api, loaded in (("http://127.0.0.1:9/api", "False"), (None, "True")):
        env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
        if api is not None:
            env["PREFECT_API_URL"] = api
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
        )
        assert done.stdout.strip() == loaded, (api, done.stdout, done.stderr)


@pytest.mark.flow
def test_deploy_without_a_prefect_server_or_to_an_unreachable_one_is_one_line(make_config) -> None:

    from flows.prefect_server import free_port

    config = make_config(
        '[warehouse]\npath = "wh"\n[[sources]]\nname = "a"\nkind = "files"\npath = "x/*.html"\n'
        'interval = "1h"\n'
    )
    args = ["deploy", "--pool", "p", "-c", str(config)]
    done = corpus(*args, env={"PREFECT_API_URL": None})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "PREFECT_API_URL" in done.stderr and "corpus server" in done.stderr
    nobody = f"http://127.0.0.1:{free_port(0)}/api"
    done = corpus(*args, env={"PREFECT_API_URL": nobody})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert f"Prefect server {nobody}" in done.stderr and "Traceback" not in done.stderr, done.stderr


@pytest.mark.flow
def test_smaller_edges_each_end_in_one_line(make_config, tmp_path: Path, sample_warehouse) -> None:
    """Seen: RecursionError for a deeply nested TOML, ValueError for a NUL in the warehouse path (after
    `sources validate` passed it), /dev/zero read without end, OverflowError for a huge --limit, a query
    starting with a `--` comment taken for an option, PIVOT refused as if it were CREATE, InvalidURL from
    `sources add`."""
    nested = make_config("a = " + "[" * 20_000 + "]" * 20_000 + "\n", "nested.toml")
    nul = make_config('[warehouse]\npath = "wh\\u0000x"\n', "nul.toml")
    cases = [
        (["sources", "validate", "-c", str(nested)], 2, "nested too deeply"),
        (["sources", "validate", "-c", str(nul)], 2, "key 'warehouse.path': a NUL character"),
        (["sources", "validate", "-c", "/dev/zero"], 2, "not a regular file"),
        (
            ["search", "x", "-c", str(sample_warehouse.config), "--limit", "99999999999999999999"],
            2,
            "--limit",
        ),
        (["sources", "add", "http://h:99999/", "-c", str(sample_warehouse.config)], 2, "Port out of range"),
        (["sources", "add", "http://[::1/x", "-c", str(sample_warehouse.config)], 2, "Invalid IPv6 URL"),
    ]
    for args, code, expected in cases:
        done = corpus(*args, timeout=60)
        assert done.returncode == code, (args, done.stderr)
        assert expected in done.stderr and "Traceback" not in done.stderr, (args, done.stderr)
    comment = corpus("sql", "-c", sample_warehouse.config, "--format", "csv", "-- why\nselect 42 as answer")
    assert comment.returncode == 0 and comment.stdout.split() == ["answer", "42"], comment.stderr
    pivot = "PIVOT (select source, 1 as n from documents) ON source USING count(*)"
    done = corpus("sql", "-c", sample_warehouse.config, "--format", "csv", pivot)
    assert done.returncode == 0 and "sample" in done.stdout, done.stderr


@pytest.mark.e2e
def test_a_server_whose_database_is_unreachable_says_why(make_config) -> None:
    """Seen: `exited with status 3 while starting`, the cause only in its log."""
    config = make_config('[warehouse]\npath = "wh"\n')
    unreachable = f"postgresql+asyncpg://u:p@127.0.0.1:{_closed_port()}/prefect"
    done = corpus(
        "server", "-c", config, "--port", "0",
        env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": unreachable, "PREFECT_API_URL": None}, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "ConnectionRefusedError" in lines[0] and "Connect call failed" in lines[0], (
        lines
    )


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
