"""Progress moves per fetched page: the CLI's bar counts pages as they are fetched (before any is
extracted), and the run keeps a Prefect progress artifact that moves while it goes and ends at 100."""

from __future__ import annotations

import io
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console
from rich.progress import Progress
from sites import make_article, news_page

from flows.cli import _ProgressBar
from flows.ingest import ingest
from flows.run.progress import Several, watching

PAGES = 24
PAUSE = 0.15  # seconds each page takes to serve


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[float, str, int]] = []

    def source_started(self, source: str, total_units: int, total_pages: int | None) -> None:
        self.events.append((time.monotonic(), "started", total_pages or 0))

    def pages_fetched(self, source: str, count: int) -> None:
        self.events.append((time.monotonic(), "fetched", count))

    def pages_done(self, source: str, count: int) -> None:
        self.events.append((time.monotonic(), "done", count))

    def unit_done(self, source: str) -> None:
        self.events.append((time.monotonic(), "unit", 1))

    def note(self, message: str) -> None:
        self.events.append((time.monotonic(), message, 0))


class SlowPages(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/robots.txt":
            body, status = b"", 404
        else:
            time.sleep(PAUSE)
            url = f"http://{self.headers['Host']}{self.path}"
            body, status = news_page(make_article(zlib.crc32(self.path.encode())), url).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _artifact_values(seen: list[tuple[object, float]], stop: threading.Event) -> None:
    """Every progress artifact as it is, every 0.2 s (what the Prefect UI shows), with its flow run."""
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterType
    from prefect.client.schemas.sorting import ArtifactSort

    wanted = ArtifactFilter(type=ArtifactFilterType(any_=["progress"]))
    with get_client(sync_client=True) as client:
        while True:
            stopping = stop.wait(0.2)  # once more after the run: its last value, what the UI shows then
            newest = client.read_artifacts(artifact_filter=wanted, sort=ArtifactSort.CREATED_DESC, limit=20)
            for artifact in newest:
                if artifact.data is not None:
                    seen.append((artifact.flow_run_id, float(artifact.data)))  # type: ignore[arg-type]
            if stopping:
                return


@pytest.mark.flow
def test_progress_moves_with_every_fetched_page(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowPages)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    urls = ", ".join(f'"{base}/a/{i}.html"' for i in range(PAGES))
    config = tmp_path / "slow.toml"
    config.write_text(
        f'[warehouse]\npath = "wh"\n[[sources]]\nname = "slow"\nkind = "urls"\nurls = [{urls}]\n'
        "allow_private = true\ndelay = 0\n"
    )
    recorder = Recorder()
    bars = Progress(console=Console(file=io.StringIO()))
    bar = _ProgressBar(bars)
    polled: list[tuple[object, float]] = []
    stop = threading.Event()
    poller = threading.Thread(target=_artifact_values, args=(polled, stop), daemon=True)
    poller.start()
    try:
        with watching(Several(recorder, bar)):
            state = ingest(str(config), return_state=True)
            summary = state.result()
    finally:
        stop.set()
        poller.join()
        server.shutdown()
        server.server_close()
    assert summary.sources["slow"].written == PAGES

    kinds = [kind for _, kind, _ in recorder.events]
    assert kinds[0] == "started" and recorder.events[0][2] == PAGES  # the pages are known once listed
    fetched = [(at, n) for at, kind, n in recorder.events if kind == "fetched"]
    assert sum(n for _, n in fetched) == PAGES and all(n == 1 for _, n in fetched)  # one report a page
    first_done = next(at for at, kind, _ in recorder.events if kind == "done")
    assert fetched[0][0] < first_done - PAUSE  # moving before anything was extracted
    assert fetched[-1][0] - fetched[0][0] > PAUSE  # spread over the fetching, not all at its end

    task = bars.tasks[0]  # the CLI's bar: every page fetched and done, of the pages listed
    assert (task.total, task.completed, task.fields["fetched"]) == (PAGES, PAGES, f"{PAGES} fetched")

    flow_run = state.state_details.flow_run_id  # this run's artifact only (other tests run beside it)
    values = [value for run, value in polled if run == flow_run]
    assert values and values[-1] == 100.0, values  # the artifact ends at 100 and moved on its way there
    assert any(0 < v < 100 for v in values), values
