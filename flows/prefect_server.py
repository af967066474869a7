"""A local Prefect server as a child process: schedules need a real server (Prefect's temporary in-process
one refuses them), and `corpus serve` should work with one command when no server is configured.

Its SQLite database lives in Prefect's home, a folder per warehouse (server_home), so each warehouse
keeps its own run history without any of it inside the warehouse; a remote warehouse uses PREFECT_HOME.
PREFECT_SERVER_DATABASE_CONNECTION_URL, when set, names another database (PostgreSQL). Listens on
127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from flows.errors import ServerError

DEFAULT_PORT = 4200  # Prefect's own default, which its CLI and docs assume
HEALTH_TIMEOUT = 90.0  # seconds; a first start (database migrations, UI files) takes ~10 s here


DATABASE_SETTING = "PREFECT_SERVER_DATABASE_CONNECTION_URL"
# In a local server's home while it runs: its API URL, so that the same warehouse's later CLI runs report
# to it (running_server) instead of starting Prefect's temporary server (~6 s each).
URL_FILE = "server-url"


@dataclass(frozen=True)
class LocalServer:
    url: str  # http://127.0.0.1:<port>
    home: Path
    log: Path
    process: subprocess.Popen[bytes]
    database: str  # where it keeps its state, without a password

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"


def database_url(home: Path) -> str:
    """The server's database: PREFECT_SERVER_DATABASE_CONNECTION_URL when set (PostgreSQL for a team's
    server: postgresql+asyncpg://user:password@host:5432/prefect), else SQLite in `home`."""
    return os.environ.get(DATABASE_SETTING) or f"sqlite+aiosqlite:///{home / 'prefect.db'}"


def shown(url: str) -> str:
    """A database URL without its password."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def server_home(catalog: str | None) -> Path:
    """Where the server keeps its database: in Prefect's home (PREFECT_HOME, else ~/.prefect), a folder
    per warehouse named after it (`corpus-servers/<folder>-<hash of its path>`), never inside the
    warehouse, which holds data only (copying or sharing it carries no run history and no database being
    written). A warehouse whose server database is inside it already (`<warehouse>/.prefect`, where
    earlier versions put it) keeps it there: its run history is not left behind."""
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    if not catalog:
        return home
    place = Path(catalog).resolve().parent
    earlier = place / ".prefect"
    if (earlier / "prefect.db").exists():
        return earlier
    digest = hashlib.blake2b(str(place).encode(), digest_size=4).hexdigest()
    return home / "corpus-servers" / f"{place.name}-{digest}"


def free_port(preferred: int) -> int:
    """`preferred` when nothing listens there, else any free port (0: any free port)."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise ServerError("no free TCP port on 127.0.0.1")


def healthy(api_url: str) -> bool:
    try:
        return httpx.get(f"{api_url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def local_server(home: Path, port: int = DEFAULT_PORT) -> Iterator[LocalServer]:
    """Start `prefect server start` on 127.0.0.1, wait until it answers; stop it and its children on exit."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port(port)
    log = home / "server.log"
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        DATABASE_SETTING: database_url(home),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_UI_URL": f"http://127.0.0.1:{port}",  # links in notifications (automations' ui_url)
    }
    env.pop("PREFECT_API_URL", None)
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("ab") as sink:
        process = subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,  # its own process group: stopped as a whole, spared the terminal's Ctrl-C
            preexec_fn=_stop_with_parent,
        )
    server = LocalServer(f"http://127.0.0.1:{port}", home, log, process, shown(database_url(home)))
    announced = home / URL_FILE
    try:
        _wait_healthy(server)
        announced.write_text(server.api_url + "\n")
        yield server
    finally:
        with contextlib.suppress(OSError):
            if announced.read_text().strip() == server.api_url:  # not another server's since
                announced.unlink()
        stop(process)


def running_server(home: Path) -> str | None:
    """The API URL of the local server that `corpus server` or `corpus serve` runs from this home (a
    warehouse's: server_home), when it answers on 127.0.0.1; else None."""
    try:
        url = (home / URL_FILE).read_text().strip()
    except OSError:
        return None
    if not re.fullmatch(r"http://127\.0\.0\.1:\d{1,5}/api", url):
        return None
    return url if healthy(url) else None


def _stop_with_parent() -> None:
    """In the server's process, before it starts: have Linux send it SIGTERM when its parent dies, so a
    `corpus serve` killed with SIGKILL (or by the OOM killer) leaves no server behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _wait_healthy(server: LocalServer) -> None:
    deadline = time.monotonic() + HEALTH_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(
                f"the Prefect server exited with status {server.process.returncode} while starting: "
                f"{_last_line(server.log)} (log: {server.log})"
            )
        if healthy(server.api_url):
            return
        time.sleep(0.25)
    raise ServerError(f"the Prefect server did not answer within {HEALTH_TIMEOUT:.0f} s (log: {server.log})")


def stop(process: subprocess.Popen[bytes], grace: float = 15.0) -> None:
    """SIGTERM to the server's process group, SIGKILL if it is still there after `grace` seconds."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Refused|Timeout)\b.*")


def _last_line(log: Path) -> str:
    """What stopped the server, from its log: the last exception raised (an unreachable database:
    "ConnectionRefusedError: ... Connect call failed"), else its last line ("Server stopped!" says
    nothing)."""
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
        causes = [line for line in lines if _EXCEPTION_LINE.match(line)]
        if causes:
            return causes[-1][:300]
        if lines:
            return lines[-1][:300]
    return "no output"
