"""Shared set-up: an isolated Prefect home, one Prefect server for the session, the test tiers, and the
offline sample ingested once.

Tiers (every test has exactly one; `make test-fast` runs the first two, `make test` all three):
    unit   functions called in this process (test HTTP servers as threads included)
    flow   runs the ingest flow or `corpus` commands, against the session's Prefect server
    e2e    starts servers, clusters or processes of its own: `corpus serve`/`server`, Prefect's temporary
           server, Dask, moto_server, PostgreSQL, a browser, a package install

Under pytest-xdist the controller starts the Prefect server and every worker uses it; each worker has a
Prefect home of its own (the temporary servers some tests start keep their database there).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

TIERS = ("unit", "flow", "e2e")
_SERVER_URL = "CORPUS_TEST_PREFECT_API_URL"  # the session server's, from the controller to its workers


def pytest_configure(config: pytest.Config) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    # A Prefect home per process of the session (its database is created once), outside the user's own.
    home = Path(config.rootpath) / ".pytest_cache" / f"prefect-home-{worker}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(home)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # see prefect_settings
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    os.environ.pop("PREFECT_API_URL", None)
    # One Prefect server for the session, as a user with `corpus server` running has: each `corpus ingest`
    # then skips starting Prefect's temporary server (~4 s each). The tests of the default path (no server
    # configured) ask for it with the `temporary_server` fixture; CORPUS_TEST_TEMPORARY_SERVER=1 runs the
    # whole suite that way.
    if os.environ.get("CORPUS_TEST_TEMPORARY_SERVER"):
        return
    if worker != "main":  # an xdist worker: the controller's server
        os.environ["PREFECT_API_URL"] = os.environ[_SERVER_URL]
        return
    import tempfile

    from flows.prefect_server import local_server

    server_home = Path(tempfile.mkdtemp(prefix="corpus-test-prefect-"))
    server = local_server(server_home, 0)
    url = server.__enter__().api_url
    os.environ["PREFECT_API_URL"] = os.environ[_SERVER_URL] = url
    config.stash[_SERVER] = (server, server_home)


_SERVER = pytest.StashKey[tuple]()


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SERVER in config.stash:
        import shutil

        server, home = config.stash[_SERVER]
        from prefect.logging.handlers import APILogHandler

        APILogHandler().flush()  # the last flow runs' logs, while their server still listens
        os.environ.pop("PREFECT_API_URL", None)
        server.__exit__(None, None, None)
        shutil.rmtree(home, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test belongs to exactly one tier."""
    wrong = [
        f"{item.nodeid}: {[t for t in TIERS if item.get_closest_marker(t)] or 'no tier'}"
        for item in items
        if sum(item.get_closest_marker(tier) is not None for tier in TIERS) != 1
    ]
    if wrong:
        raise pytest.UsageError(
            "each test needs exactly one tier marker (unit, flow, e2e):\n" + "\n".join(wrong)
        )


@pytest.fixture(autouse=True)
def _no_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands print for a pipe at their full width; in the test session COLUMNS=80 and LINES=24 are in
    the process's C environment (GNU readline exports them when it starts, where Python's os.environ does
    not see them), and `corpus` honours COLUMNS as a user's setting. Set, then removed, so that the C
    environment children inherit loses them too. Tests that want a width pass COLUMNS themselves."""
    for name in ("COLUMNS", "LINES"):
        monkeypatch.setenv(name, "0")
        monkeypatch.delenv(name)


@pytest.fixture
def temporary_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Prefect server configured for the commands this test runs: each starts Prefect's temporary one,
    the default path of `corpus ingest`."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a sources config into tmp_path; returns its path."""

    def write(body: str, name: str = "sources.toml") -> Path:
        path = tmp_path / name
        path.write_text(body, encoding="utf-8")
        return path

    return write


@dataclass(frozen=True)
class Sample:
    """The offline sample of seeds/ ingested into a warehouse: read it, never change it (copy it first)."""

    folder: Path
    config: Path  # sources "sample" (files, scheduled every hour) and "sample-archive" (WARC)
    catalog: str


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    """The sample ingested once per session (per worker), shared by the tests that only read it."""
    from command import SAMPLE_SOURCE

    from flows.ingest import ingest

    folder = tmp_path_factory.mktemp("sample")
    config = folder / "sources.toml"
    config.write_text(
        f'[warehouse]\npath = "wh"\n{SAMPLE_SOURCE}interval = "1h"\n'
        f'[[sources]]\nname = "sample-archive"\nkind = "warc"\npath = "{REPO}/seeds/archive/*.warc.gz"\n'
    )
    summary = ingest(str(config))
    assert summary.ok, summary
    return Sample(folder, config, summary.catalog)
