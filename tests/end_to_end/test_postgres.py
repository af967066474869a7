"""Production-style Prefect: `corpus server` on PostgreSQL (a PostgreSQL 15 server started by the test on
127.0.0.1 with initdb and pg_ctl, PREFECT_SERVER_DATABASE_CONNECTION_URL pointing at it), an ingest
reporting to it, the scheduled sources deployed on a process work pool (`corpus deploy --pool`) and run by
`prefect worker start --pool`; the flow runs are then in PostgreSQL, not in a SQLite file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from command import SAMPLE_SOURCE, corpus, start_corpus

from flows.prefect_server import free_port

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


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


def test_corpus_server_on_postgresql_with_a_work_pool_worker(postgres: str, tmp_path: Path) -> None:
    """An ingest and a deployment run by a work-pool worker, both recorded in PostgreSQL; deploying again
    after a source lost its schedule pauses that source's deployment."""
    config = tmp_path / "sources.toml"
    scheduled = SAMPLE_SOURCE + 'interval = "1h"\n'
    other = scheduled.replace('name = "sample"', 'name = "other"')
    config.write_text('[warehouse]\npath = "wh"\n' + scheduled + other)
    server = start_corpus(
        "server",
        "-c",
        config,
        "--port",
        "0",
        env={"PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres, "PREFECT_API_URL": None},
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert f"database {postgres}" in first, first + (server.stderr.read() if server.poll() else "")
        api = first.split()[2] + "/api"
        done = corpus("ingest", "-c", config, env={"PREFECT_API_URL": api}, timeout=240)
        assert done.returncode == 0, done.stderr
        deploy_and_run_on_a_worker(config, api, tmp_path)
        # `other` no longer scheduled: deploying again pauses its deployment, `sample` stays active
        config.write_text('[warehouse]\npath = "wh"\n' + scheduled + other.replace('interval = "1h"\n', ""))
        again = deploy(config, api)
        assert again.returncode == 0, again.stderr
        assert "ingest/other" in again.stdout and "paused" in again.stdout, again.stdout
        found = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
        assert sorted((d["name"], d["paused"]) for d in found) == [("other", True), ("sample", False)]
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
    assert int(runs.stdout.strip()) == 2  # the ingest, and the deployment's run by the worker
    assert not (tmp_path / "wh" / ".prefect" / "prefect.db").exists()


def deploy(config: Path, api: str) -> subprocess.CompletedProcess:
    return corpus("deploy", "--pool", "corpus-pool", "-c", config, env={"PREFECT_API_URL": api})


def deploy_and_run_on_a_worker(config: Path, api: str, folder: Path) -> None:
    """`corpus deploy` registers both scheduled sources on a process pool; a `prefect worker` started in
    another folder runs the one triggered by hand, which writes to the config's warehouse."""
    done = deploy(config, api)
    assert done.returncode == 0, done.stderr
    assert "ingest/sample" in done.stdout and "prefect worker start --pool corpus-pool" in done.stdout
    pool = httpx.get(f"{api}/work_pools/corpus-pool", timeout=10).json()
    assert pool["type"] == "process"
    found = httpx.post(f"{api}/deployments/filter", json={}, timeout=10).json()
    assert sorted(d["name"] for d in found) == ["other", "sample"]
    sample = next(d for d in found if d["name"] == "sample")
    assert sample["work_pool_name"] == "corpus-pool" and sample["schedules"], sample
    before = len(list((folder / "wh" / "runs").glob("*.parquet")))
    env = {**os.environ, "PREFECT_API_URL": api, "PREFECT_WORKER_QUERY_SECONDS": "1"}
    (folder / "elsewhere").mkdir()
    log = (folder / "worker.log").open("wb")
    worker = subprocess.Popen(
        [str(BIN / "prefect"), "worker", "start", "--pool", "corpus-pool"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=folder / "elsewhere",
        start_new_session=True,
    )
    try:
        run = httpx.post(f"{api}/deployments/{sample['id']}/create_flow_run", json={}, timeout=10).json()
        deadline = time.monotonic() + 150
        state = None
        while time.monotonic() < deadline:
            state = httpx.get(f"{api}/flow_runs/{run['id']}", timeout=10).json()["state"]["type"]
            if state in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
                break
            time.sleep(0.5)
        assert state == "COMPLETED", (state, (folder / "worker.log").read_text())
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)
    assert len(list((folder / "wh" / "runs").glob("*.parquet"))) > before  # it wrote the warehouse
