"""What an operator sees in Prefect, on a real server started by the test: `corpus serve` runs two
scheduled sources, one of them down; `prefect deployment run` starts each. The run of the source that is
down ends Failed, with the source and its error in the state message and in the flow run's logs; the other
ends Completed; both have names that say what ran, and a summary artifact. The failure notification
recipe (docs/recipes/notify_on_failure.py, run as a user runs it) makes Prefect's automation POST to a
webhook on 127.0.0.1 for the failed run only. With Chromium installed, the flow run pages are
photographed (CORPUS_SCREENSHOTS=DIR keeps the pictures)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from command import REPO, start_corpus
from sites import write_site

from flows.prefect_server import local_server

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


class Webhook:
    """An HTTP server on 127.0.0.1 that keeps the body of every POST."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/corpus-failed"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with local_server(tmp_path / "prefect", 0) as running:
        yield running.api_url


def wait_for(what: str, check: Any, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_failed_source_fails_its_run_logs_say_why_and_the_automation_fires(
    server: str, tmp_path: Path
) -> None:
    api = server
    env = {"PREFECT_API_URL": api}
    write_site(tmp_path / "site", 2)
    config = tmp_path / "sources.toml"
    config.write_text(
        '[warehouse]\npath = "wh"\n[defaults]\nschedule = "0 0 1 1 *"\n'  # once a year: runs by hand only
        '[[sources]]\nname = "site"\nkind = "files"\npath = "site/**/*.html"\nurl_prefix = "https://"\n'
        f'[[sources]]\nname = "down"\nkind = "feed"\nurl = "http://127.0.0.1:{closed_port()}/feed.xml"\n'
        "allow_private = true\n",
        encoding="utf-8",
    )
    webhook = Webhook()
    recipe = subprocess.run(
        [sys.executable, str(REPO / "docs/recipes/notify_on_failure.py"), "--webhook", webhook.url],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )
    assert recipe.returncode == 0, recipe.stderr
    serving = start_corpus("serve", "-c", config, env=env, stderr=subprocess.STDOUT)
    try:
        deployments = wait_for(
            "the deployments",
            lambda: (
                {
                    d["name"]: d["id"]
                    for d in httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
                    if d["name"] in ("site", "down")
                }
                if len(httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()) == 2
                else None
            ),
        )
        for name in ("down", "site"):  # as an operator starts one: the prefect CLI
            started = subprocess.run(
                [str(BIN / "prefect"), "deployment", "run", f"ingest/{name}"],
                capture_output=True,
                text=True,
                env={**os.environ, **env},
                timeout=120,
            )
            assert started.returncode == 0, started.stdout + started.stderr
        runs = {name: final_run(api, deployment) for name, deployment in deployments.items()}
        failed, completed = runs["down"], runs["site"]

        # the run of the source that is down is Failed, and says which source and why
        assert failed["state"]["type"] == "FAILED", failed["state"]
        message = failed["state"]["message"]
        assert message.startswith("1 of 1 sources failed: down: feed http://127.0.0.1:"), message
        assert "connect_error" in message or "refused" in message.lower(), message
        assert failed["name"].startswith("down · deployment · "), failed["name"]
        # the other is Completed, with what it did
        assert completed["state"]["type"] == "COMPLETED", completed["state"]
        assert completed["state"]["message"].startswith("1 source completed: 2 seen, 2 written"), completed
        assert completed["name"].startswith("site · deployment · "), completed["name"]

        # the flow runs' logs have the line per source (and no traceback); Prefect ships logs in batches
        # after the state, so they are waited for (a loaded machine had the state before the last batch)
        def down_logs_with_its_line() -> list[str] | None:
            found = logs(api, failed["id"])
            said = any(line.startswith("source down: failed in ") and "error: feed" in line for line in found)
            return found if said else None

        down_logs = wait_for("the failed run's log line", down_logs_with_its_line, 30)
        assert not any("Traceback" in line for line in down_logs), down_logs
        wait_for(
            "the completed run's log line",
            lambda: any(
                line.startswith("source site: completed in ") and "2 written" in line
                for line in logs(api, completed["id"])
            ),
            30,
        )

        # a summary artifact per run, its status and totals first
        artifact = artifacts(api, "ingest-down")
        assert artifact.startswith("### Run `") and ": failed\n" in artifact.splitlines()[0] + "\n", artifact
        assert "- **down**" in artifact and "error: feed" in artifact
        assert "**2 written**" in artifacts(api, "ingest-site")

        # the automation fired for the failed run, and only for it
        posted = wait_for("the webhook", lambda: webhook.received, seconds=90)
        time.sleep(3)  # a notification for the completed run would have come by now
        assert [p["flow_run"] for p in webhook.received] == [failed["name"]], webhook.received
        assert posted[0]["state"] == "Failed" and posted[0]["message"] == message
        assert posted[0]["flow"] == "ingest" and posted[0]["flow_run_id"] == failed["id"]
        assert posted[0]["url"] == f"{api.removesuffix('/api')}/runs/flow-run/{failed['id']}"
    finally:
        serving.terminate()
        output, _ = serving.communicate(timeout=60)
        webhook.close()
    assert "source down: failed" in output  # serve's console has the line too
    assert "Traceback" not in output, output
    every_line = logs(api, failed["id"])  # now that serve has sent its last lines
    assert not any("Traceback" in line or "unexpected exception" in line for line in every_line), every_line
    photograph(api.removesuffix("/api"), runs, tmp_path)


def final_run(api: str, deployment: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        found = httpx.post(
            f"{api}/flow_runs/filter",
            json={"flow_runs": {"deployment_id": {"any_": [deployment]}}},
            timeout=10,
        ).json()
        done = [run for run in found if run["state"] and run["state"]["type"] in FINAL]
        return done[0] if done else None

    run: dict[str, Any] = wait_for("a flow run to finish", finished, seconds=150)
    return run


def logs(api: str, flow_run: str) -> list[str]:
    found = httpx.post(
        f"{api}/logs/filter", json={"logs": {"flow_run_id": {"any_": [flow_run]}}, "limit": 200}, timeout=10
    ).json()
    return [entry["message"] for entry in found]


def artifacts(api: str, key: str) -> str:
    found = httpx.post(
        f"{api}/artifacts/filter", json={"artifacts": {"key": {"any_": [key]}}}, timeout=10
    ).json()
    assert found, f"no artifact {key}"
    return str(found[0]["data"])


def photograph(ui: str, runs: dict[str, dict[str, Any]], folder: Path) -> None:
    """The flow run pages in headless Chromium (Debian's package), when it is installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        warnings.warn("chromium is not installed: the flow run pages were not photographed", stacklevel=1)
        return
    keep = os.environ.get("CORPUS_SCREENSHOTS")
    for name, run in runs.items():
        picture = folder / f"flow-run-{name}.png"
        subprocess.run(
            [
                browser,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--window-size=1440,1000",
                "--virtual-time-budget=20000",
                f"--screenshot={picture}",
                f"{ui}/runs/flow-run/{run['id']}",
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert picture.exists() and picture.stat().st_size > 20_000, f"no picture of {name}'s flow run"
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(picture, Path(keep) / picture.name)
