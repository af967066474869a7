"""Shared fixtures: an isolated Prefect home, generated news sites, configs and warehouses in tmp folders."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))


def pytest_configure(config: pytest.Config) -> None:
    # One Prefect home for the whole session (its database is created once), outside the user's own.
    home = Path(config.rootpath) / ".pytest_cache" / "prefect-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PREFECT_HOME", str(home))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")  # see prefect_settings
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    os.environ.pop("PREFECT_API_URL", None)
    # One Prefect server for the session, as a user with `corpus server` running has: each `corpus ingest`
    # then skips starting Prefect's temporary server (~4 s each). The tests of the default path (no server
    # configured) ask for it with the `temporary_server` fixture; CORPUS_TEST_TEMPORARY_SERVER=1 runs the
    # whole suite that way.
    if not os.environ.get("CORPUS_TEST_TEMPORARY_SERVER"):
        import tempfile

        from flows.prefect_server import local_server

        home = Path(tempfile.mkdtemp(prefix="corpus-test-prefect-"))
        server = local_server(home, 0)
        os.environ["PREFECT_API_URL"] = server.__enter__().api_url
        config.stash[_SERVER] = (server, home)


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


@pytest.fixture
def corpus() -> Path:
    return REPO / ".venv" / "bin" / "corpus"
