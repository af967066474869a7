"""`corpus server` on PostgreSQL: a PostgreSQL 15 server started by the test on 127.0.0.1 (initdb, pg_ctl),
PREFECT_SERVER_DATABASE_CONNECTION_URL pointing at it, an ingest reporting to that Prefect server; the
flow run is then in PostgreSQL, not in a SQLite file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from command import SAMPLE_SOURCE

from flows.prefect_server import free_port

BIN = Path(sys.executable).parent
pytestmark = pytest.mark.timeout(300)


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as the postgres user then."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
        pytest.skip("PostgreSQL's initdb and pg_ctl are not installed")
    # not under pytest's temporary folder: the postgres user may not enter root's (mode 700)
    folder = Path(tempfile.mkdtemp(prefix="corpus-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port(0)
    subprocess.run(
        as_postgres(["initdb", "-D", str(data), "-U", "postgres", "--auth=trust"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1"
    subprocess.run(
        as_postgres(["pg_ctl", "-D", str(data), "-o", options, "-l", str(folder / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "prefect"],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/prefect"
    finally:
        subprocess.run(
            as_postgres(["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"]), capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


def test_corpus_server_keeps_its_state_in_postgresql(postgres: str, tmp_path: Path) -> None:
    config = tmp_path / "sources.toml"
    config.write_text('[warehouse]\npath = "wh"\n' + SAMPLE_SOURCE)
    env = {**os.environ, "PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres}
    env.pop("PREFECT_API_URL", None)
    server = subprocess.Popen(
        [str(BIN / "corpus"), "server", "-c", str(config), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert f"database {postgres}" in first, first + (server.stderr.read() if server.poll() else "")
        api = first.split()[2] + "/api"
        done = subprocess.run(
            [str(BIN / "corpus"), "ingest", "-c", str(config)],
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, "PREFECT_API_URL": api},
        )
        assert done.returncode == 0, done.stderr
    finally:
        server.terminate()
        server.wait(30)
    port = postgres.rsplit(":", 1)[1].split("/")[0]
    runs = subprocess.run(
        [
            *["psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-d", "prefect", "-tAc"],
            "select count(*) from flow_run where state_type = 'COMPLETED'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert int(runs.stdout.strip()) == 1
    assert not (tmp_path / "wh" / ".prefect" / "prefect.db").exists()
