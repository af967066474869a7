"""The same flows on Dask, with real processes on 127.0.0.1: a LocalCluster of 2 worker processes started by
the run, and an external `dask scheduler` with 2 `dask worker` processes. The warehouse must come out the
same as with the threads runner (documents, articles, cluster ids, input files), large WARC files are
cut into byte-range units, daemonic workers are refused in one line, and a worker killed mid-run costs
nothing."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from command import corpus, start_corpus
from sites import write_warc_corpus

from flows.prefect_server import free_port

pytest.importorskip("prefect_dask")
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
BIN = Path(sys.executable).parent


def config(folder: Path, warehouse: str, runner: str = "") -> Path:
    path = folder / f"{warehouse}.toml"
    path.write_text(
        f'[warehouse]\npath = "{warehouse}"\n{runner}\n'
        '[[sources]]\nname = "archive"\nkind = "warc"\npath = "warcs/*.warc.gz"\n'
    )
    return path


def snapshot(folder: Path, warehouse: str) -> dict[str, list[tuple]]:
    with duckdb.connect(str(folder / warehouse / "corpus.duckdb"), read_only=True) as con:
        return {
            "documents": con.sql(
                "select doc_id, url, cluster_id, duplicate_of, md5(text), word_count from documents "
                "order by doc_id"
            ).fetchall(),
            "articles": con.sql("select doc_id, copies from articles order by doc_id").fetchall(),
            "rejects": con.sql("select url, reason from rejects order by url, reason").fetchall(),
            "inputs": con.sql(
                "select regexp_replace(path, '.*/', ''), records, documents, rejects, skipped "
                "from inputs order by 1"
            ).fetchall(),
        }


class ExternalCluster:
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, each in a process group of its own."""

    def __init__(
        self, folder: Path, workers: int = 2, daemon: bool = False, hide: Path | None = None
    ) -> None:
        self.folder, self.port, self.hide = folder, free_port(0), hide
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.env = {**os.environ, "DASK_DISTRIBUTED__WORKER__DAEMON": str(daemon)}
        self.scheduler = self._start(
            "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--dashboard-address", ":0"
        )
        self.workers = [self.start_worker(i) for i in range(workers)]
        self.wait_for(workers)

    def _start(self, name: str, *args: str) -> subprocess.Popen:
        log = (self.folder / f"dask-{name}-{time.monotonic_ns()}.log").open("wb")
        command = [str(BIN / "dask"), *(["scheduler"] if name == "scheduler" else ["worker"]), *args]
        if self.hide is not None and name != "scheduler":  # a worker on "another machine": no such folder
            hidden = 'mount -t tmpfs none "$0" && exec "$@"'
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", hidden, str(self.hide)]
            command += [str(BIN / "dask"), "worker", *args]
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            cwd=self.folder,
            start_new_session=True,
        )

    def start_worker(self, index: int) -> subprocess.Popen:
        return self._start(
            f"worker{index}",
            self.address,
            "--nthreads",
            "1",
            "--host",
            "127.0.0.1",
            "--dashboard-address",
            ":0",
        )

    def wait_for(self, workers: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=120)

    def kill_worker(self, index: int) -> None:
        os.killpg(self.workers[index].pid, signal.SIGKILL)  # the nanny and its worker process

    def close(self) -> None:
        for process in [*self.workers, self.scheduler]:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        for process in [*self.workers, self.scheduler]:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def corpus_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dask")
    write_warc_corpus(folder / "warcs")
    done = corpus("ingest", "--config", str(config(folder, "threads")))
    assert done.returncode == 0, done.stderr
    return folder


@pytest.fixture(scope="module")
def external(corpus_folder: Path) -> Iterator[ExternalCluster]:
    cluster = ExternalCluster(corpus_folder)
    try:
        yield cluster
    finally:
        cluster.close()


def test_a_local_cluster_gives_the_threads_warehouse(corpus_folder: Path) -> None:
    path = config(corpus_folder, "local", '[runner]\nkind = "dask"\nworkers = 2')
    done = corpus("ingest", "--config", str(path))
    assert done.returncode == 0, done.stderr
    expected = snapshot(corpus_folder, "threads")
    assert len(expected["documents"]) > 300 and any(row[3] for row in expected["documents"])
    assert snapshot(corpus_folder, "local") == expected
    with duckdb.connect(str(corpus_folder / "local" / "corpus.duckdb"), read_only=True) as con:
        units = con.sql("select count(*) from runs").fetchone()
    assert units is not None
    # nothing of the run is left: no worker, no extraction process
    leftovers = subprocess.run(
        ["pgrep", "-f", "corpus-extract|distributed.nanny"], capture_output=True, text=True
    )
    assert leftovers.stdout.strip() == "", leftovers.stdout


def test_an_external_cluster_gives_the_threads_warehouse(
    corpus_folder: Path, external: ExternalCluster, temporary_server: None
) -> None:
    path = config(corpus_folder, "external", f'[runner]\nkind = "dask"\naddress = "{external.address}"')
    done = corpus("ingest", "--config", str(path))
    assert done.returncode == 0, done.stderr
    assert snapshot(corpus_folder, "external") == snapshot(corpus_folder, "threads")
    # the workers reported to the flow's Prefect server, not to temporary servers of their own
    logs = [log.read_text() for log in corpus_folder.glob("dask-worker*.log")]
    assert logs and not [log for log in logs if "temporary server" in log], logs


def test_large_warcs_are_cut_into_units(corpus_folder: Path) -> None:
    """On a cluster of 2 slots each file of ~2 MB is read by several tasks (1 MB at least each)."""
    from flows.config import load_config
    from flows.sources import DiscoverContext, discover

    cfg = load_config(config(corpus_folder, "units"))
    source = cfg.sources[0]
    whole = discover(source, cfg, DiscoverContext())
    cut = discover(source, cfg, DiscoverContext(slots=2))
    assert len(whole) == 2
    assert len(cut) > 2, [(u.spec.start, u.spec.end) for u in cut]
    for path in {u.inputs[0].path for u in cut}:
        parts = [u.spec for u in cut if u.inputs[0].path == path]
        assert parts[0].start == 0 and parts[-1].end == os.path.getsize(path)
        assert all(a.end == b.start for a, b in itertools.pairwise(parts))


def test_workers_that_cannot_see_the_inputs_or_the_warehouse_are_refused_in_one_line(
    corpus_folder: Path,
) -> None:
    """Workers started where the inputs' folder is not (an empty folder mounted over it in their own mount
    namespace: another machine, as far as paths go): refused before the run, naming the source and file,
    or the warehouse."""
    if subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot make a mount namespace here (unshare --mount)")
    cluster = ExternalCluster(corpus_folder, workers=1, hide=corpus_folder / "warcs")
    runner = f'[runner]\nkind = "dask"\naddress = "{cluster.address}"\n'
    source = '[[sources]]\nname = "archive"\nkind = "warc"\npath = "warcs/*.warc.gz"\n'
    try:
        for warehouse, expected in (("blind-inputs", "source 'archive'"), ("warcs/wh", "warehouse ")):
            path = corpus_folder / f"{warehouse.replace('/', '-')}.toml"
            path.write_text(f'[warehouse]\npath = "{warehouse}"\n{runner}{source}')
            done = corpus("ingest", "--config", str(path))
            assert done.returncode == 2, done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), done.stderr
            assert "cannot" in lines[0] and "127.0.0.1" in lines[0], done.stderr
            assert warehouse != "blind-inputs" or "/warcs/a.warc.gz" in lines[0], done.stderr
    finally:
        cluster.close()
    assert not (corpus_folder / "blind-inputs" / "documents").exists()


def test_daemonic_workers_are_refused_in_one_line(corpus_folder: Path) -> None:
    cluster = ExternalCluster(corpus_folder, workers=1, daemon=True)
    try:
        path = config(corpus_folder, "daemonic", f'[runner]\nkind = "dask"\naddress = "{cluster.address}"')
        done = corpus("ingest", "--config", str(path))
    finally:
        cluster.close()
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "DASK_DISTRIBUTED__WORKER__DAEMON=False" in lines[0], done.stderr


def test_a_worker_killed_mid_run_costs_nothing(corpus_folder: Path, external: ExternalCluster) -> None:
    """Once the first unit is staged (extraction under way on the workers), one worker is killed with its
    nanny: its tasks run again on the other, and the warehouse equals the threads runner's."""
    path = config(corpus_folder, "killed", f'[runner]\nkind = "dask"\naddress = "{external.address}"')
    run = start_corpus("ingest", "--config", path, stderr=subprocess.STDOUT)
    staging = corpus_folder / "killed" / "_staging"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(staging.rglob("*.parquet")):
        assert run.poll() is None, run.stdout.read() if run.stdout else ""
        time.sleep(0.05)
    assert run.poll() is None  # mid-run
    external.kill_worker(0)
    output = run.communicate(timeout=300)[0]
    assert run.returncode == 0, output
    assert snapshot(corpus_folder, "killed") == snapshot(corpus_folder, "threads")
    external.workers[0] = external.start_worker(0)  # for the tests after this one
    external.wait_for(2)
