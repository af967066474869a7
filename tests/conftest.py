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
