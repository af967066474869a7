"""What a short run does not pay for any more: a pool started after Prefect (the CLI warms it first and the
run takes it), a catalog built while a short run goes (only at its end), Prefect's heartbeat thread at the
end of a one-shot CLI run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from command import SAMPLE_SOURCE

from flows.config import DedupConfig, ExtractConfig, load_config
from flows.run import unit
from flows.run.background import BackgroundRefresh
from flows.run.unit import UnitResources, warming


@pytest.mark.flow
def test_a_run_begun_in_a_warming_block_takes_its_pool(tmp_path: Path) -> None:
    from flows.ingest import ingest
    from flows.run import run as run_module

    config = tmp_path / "sources.toml"
    config.write_text('[warehouse]\npath = "wh"\n' + SAMPLE_SOURCE)
    loaded = load_config(config)
    taken: list[UnitResources] = []
    begin = run_module.Run.begin.__func__  # type: ignore[attr-defined]

    def spy(cls, *args, **kwargs):  # the resources of the run begun
        run = begin(cls, *args, **kwargs)
        taken.append(run.resources)
        return run

    run_module.Run.begin = classmethod(spy)  # type: ignore[method-assign,assignment]
    try:
        with warming(loaded.extract, loaded.dedup):
            warmed = unit._WARMED.get()  # started on entering the block
            summary = ingest(str(config))
    finally:
        run_module.Run.begin = classmethod(begin)  # type: ignore[method-assign,assignment]
    assert summary.ok and summary.sources["sample"].written > 0
    assert warmed is not None and taken == [warmed]  # the run took the warmed pool
    assert warmed._taken and warmed._pool is None  # and closed it with itself
    # outside a block, or with other settings, a run gets resources of its own
    assert not UnitResources.for_run(loaded.extract, loaded.dedup)._taken
    with warming(ExtractConfig(), DedupConfig()):
        other = UnitResources.for_run(ExtractConfig(timeout=7), DedupConfig())
        assert not other._taken and other._pool is None


@pytest.mark.unit
def test_a_refresher_with_an_interval_leaves_a_short_run_to_its_end() -> None:
    runs: list[float] = []
    quiet = BackgroundRefresh(lambda: runs.append(time.monotonic()), "test-quiet", interval=30.0)
    quiet.request()
    time.sleep(0.3)
    quiet.close()  # the request had to wait for the interval: dropped
    assert runs == []

    done = threading.Event()
    eager = BackgroundRefresh(lambda: (runs.append(time.monotonic()), done.set()), "test-eager", interval=0.5)
    started = time.monotonic()
    eager.request()
    assert done.wait(10)
    done.clear()
    eager.request()
    assert done.wait(10)
    eager.close()
    assert len(runs) == 2 and runs[0] - started >= 0.45 and runs[1] - runs[0] >= 0.45


@pytest.mark.unit
def test_one_shot_runs_send_no_heartbeats_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import get_current_settings

    from flows.prefect_settings import without_heartbeats

    default = get_current_settings().flows.heartbeat_frequency
    with without_heartbeats():
        assert get_current_settings().flows.heartbeat_frequency is None
    assert get_current_settings().flows.heartbeat_frequency == default
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "60")
    with without_heartbeats():  # asked for: Prefect's own setting stands
        assert get_current_settings().flows.heartbeat_frequency == default


@pytest.mark.unit
def test_a_costly_refresher_takes_its_share_of_the_run_at_most() -> None:
    """An action that takes 0.3 s, with share 0.5: the next run waits 0.6 s after it ends, not `interval`."""
    ends: list[float] = []
    done = threading.Event()

    def slow() -> None:
        time.sleep(0.3)
        ends.append(time.monotonic())
        done.set()

    refresher = BackgroundRefresh(slow, "test-share", interval=0.0, share=0.5)
    refresher.request()
    assert done.wait(10)
    done.clear()
    refresher.request()
    assert done.wait(10)
    refresher.close()
    assert ends[1] - ends[0] >= 0.3 + 0.55  # its own 0.3 s, after waiting 0.6 s


@pytest.mark.unit
@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ((None, None, None, False), "config_path must be a path, not None"),
        (("c.toml", "news", None, False), "sources must be a list of source names or null, not 'news'"),
        (("c.toml", ["news", 3], None, False), "sources must be a list of source names or null"),
        (("c.toml", None, 7, False), "warehouse must be a path, URI or null, not 7"),
        (("c.toml", None, None, "false"), "full must be true or false, not 'false'"),
    ],
)
def test_flow_parameters_are_checked_without_prefect_validation(arguments: tuple, said: str) -> None:
    """The flows skip Prefect's parameter validation (a pydantic model built at import and at every call);
    their own check refuses what a deployment run could pass wrongly, naming the parameter."""
    from flows.errors import ConfigError
    from flows.ingest import _parameters, ingest, reextract

    assert not ingest.should_validate_parameters and not reextract.should_validate_parameters
    _parameters(Path("c.toml"), ["news"], "s3://bucket/corpus", True)  # what the signatures allow
    with pytest.raises(ConfigError, match="^flow parameters: " + said.replace("(", r"\(")):
        _parameters(*arguments)
