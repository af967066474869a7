"""A warehouse's running `corpus server` is found by later CLI runs of that warehouse: `corpus ingest` with no
PREFECT_API_URL reports to it (one line says so) instead of starting Prefect's temporary server, and its
flow run is there, Completed. Once the server stops, nothing points at it any more."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from command import SAMPLE_SOURCE, corpus, start_corpus

from flows.prefect_server import URL_FILE, running_server, server_home
from flows.warehouse import Warehouse

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_ingest_reports_to_the_warehouse_s_running_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "sources.toml"
    config.write_text('[warehouse]\npath = "wh"\n' + SAMPLE_SOURCE)
    env = {"PREFECT_HOME": str(tmp_path / "prefect-home"), "PREFECT_API_URL": None}
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect-home"))
    home = server_home(Warehouse(str(tmp_path / "wh")).catalog)
    announced = home / URL_FILE
    server = start_corpus("server", "-c", config, "--port", "0", env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while not announced.exists() and time.monotonic() < deadline and server.poll() is None:
            time.sleep(0.25)
        assert announced.exists(), server.stderr.read() if server.poll() is not None else "no server-url"
        url = announced.read_text().strip()
        assert url.startswith("http://127.0.0.1:") and running_server(home) == url

        done = corpus("ingest", "-c", config, env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"reporting to this warehouse's Prefect server at {url}" in done.stderr
        runs = httpx.post(f"{url}/flow_runs/filter", json={}, timeout=10).json()
        assert [run["state"]["type"] for run in runs] == ["COMPLETED"]
    finally:
        server.terminate()  # as a service manager stops it: the server stops, and says where it was no more
        server.wait(60)
    assert not announced.exists() and running_server(home) is None
