"""How far a reader walks to follow a run: `config_path` from `flows.ingest.ingest` through the code.

Issue 27's measure of "a run in one place", taken the same way before and after a change: a real ingest of
the offline sample (seeds/: a files source and a WARC source) runs in this process with a profiler hook on
every thread, and every call of a function of the `flows` package is recorded when the config travels
with it. The config travels with a call when an argument (or `self`) is the config path, a config model
(flows/config.py: the Config, its sections, a source, its filters), or an object holding one of those in
an attribute (a run, a unit, a pool built from the extraction settings...).

- a stop: a distinct function of `flows` reached that way;
- files: the distinct files of those stops;
- a climb back up: a stop entered from a module in a lower layer than its own (the layers of the
  import-linter contract in pyproject.toml; a package is one module): called back through a callback, a
  hook, a property; or, entered from outside `flows` (a Prefect task, a thread), when it sits in a higher
  layer than the stop reached just before it: the reader has to climb back up to follow the run. Returning
  to a caller is not a climb;
- returns: stops in the flow's own module (flows/ingest.py) entered from another file, or from outside
  `flows` after the flow's first stop (Prefect calling a task defined there);
- callbacks up: distinct (calling file, called function) where the calling module sits in a lower layer
  than the called one (the first kind of climb alone);
- steps up (a stricter reading): stop to stop in the order they are first reached, each step into a module
  of a higher layer, returns to a caller included (every time the conductor takes over again after a stage,
  and every property read of a lower module, counts), and steps back into flows/ingest.py in that order.

    .venv/bin/python tests/bench/walk_config.py [--list]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
import tempfile
import threading
import tomllib
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FLOWS = str(REPO / "flows") + os.sep


def layers() -> dict[str, int]:
    """Top-level module of flows → its layer (0: the top), from the import-linter contract."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    contract = next(c for c in project["tool"]["importlinter"]["contracts"] if c.get("type") == "layers")
    found: dict[str, int] = {}
    for index, layer in enumerate(contract["layers"]):
        for name in layer.split("|"):
            found[name.strip()] = index
    return found


def module_of(path: str) -> str:
    """flows/run/commit.py → 'run'; flows/ingest.py → 'ingest'."""
    relative = path[len(FLOWS) :]
    return relative.split(os.sep)[0].removesuffix(".py")


class Walk:
    def __init__(self, config_path: str) -> None:
        from pydantic import BaseModel

        from flows import config as config_module

        self.config_path = config_path
        self.models = tuple(
            value
            for value in vars(config_module).values()
            if isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__ == config_module.__name__
        )
        self.stops: dict[tuple[str, str], int] = {}  # (file, function) → order of first visit
        self.entered_from: dict[
            tuple[str, str], str | None
        ] = {}  # stop → the flows file that called it first
        self.edges: set[tuple[str, str, str]] = set()  # (caller file, callee file, callee function)
        self.lock = threading.Lock()
        self.carrier_cache: dict[int, bool] = {}

    def carries(self, value: Any, depth: int = 0) -> bool:
        if isinstance(value, str):
            return value == self.config_path
        if isinstance(value, self.models):
            return True
        if depth >= 1 or value is None or isinstance(value, (int, float, bytes, bool)):
            return False
        if isinstance(value, (list, tuple)):
            return any(self.carries(v, depth + 1) for v in value[:8])
        attributes: dict[str, Any] = {}
        try:
            attributes = dict(vars(value))
        except TypeError:
            for name in getattr(type(value), "__slots__", ()):
                if hasattr(value, name):
                    attributes[name] = getattr(value, name)
        return any(self.carries(v, depth + 1) for v in attributes.values())

    def hook(self, frame: FrameType, event: str, _arg: Any) -> None:
        if event != "call":
            return
        code = frame.f_code
        if not code.co_filename.startswith(FLOWS):
            return
        names = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
        if not any(self.carries(frame.f_locals.get(name)) for name in names):
            return
        caller = frame.f_back
        while caller is not None and not caller.f_code.co_filename.startswith(FLOWS):
            caller = caller.f_back
        key = (code.co_filename, code.co_qualname)
        with self.lock:
            if key not in self.stops:
                self.stops[key] = len(self.stops)
                self.entered_from[key] = caller.f_code.co_filename if caller is not None else None
            if caller is not None:
                self.edges.add((caller.f_code.co_filename, code.co_filename, code.co_qualname))

    def report(self, show: bool) -> dict[str, int]:
        layer = layers()
        files = {file for file, _ in self.stops}
        order = [key for key, _ in sorted(self.stops.items(), key=lambda item: item[1])]
        flow_file = FLOWS + "ingest.py"
        climbs = returns = 0
        for index, (file, name) in enumerate(order):
            came_from = self.entered_from[(file, name)]
            before = came_from if came_from is not None else (order[index - 1][0] if index else None)
            up = (
                before is not None
                and module_of(before) != module_of(file)
                and layer[module_of(file)] < layer[module_of(before)]
            )
            back = index > 0 and file == flow_file and came_from != flow_file
            climbs += up
            returns += back
            if show:
                via = "" if came_from is not None else "  (entered from outside flows)"
                print(f"  {'↑ ' if up else '  '}{'⟲ ' if back else '  '}{file[len(FLOWS) :]}:{name}{via}")
        steps_up = steps_back = 0
        for (before_file, _), (after_file, _) in itertools.pairwise(order):
            steps_up += module_of(before_file) != module_of(after_file) and (
                layer[module_of(after_file)] < layer[module_of(before_file)]
            )
            steps_back += after_file == flow_file and before_file != flow_file
        callbacks = sorted(
            (caller, callee, name)
            for caller, callee, name in self.edges
            if module_of(caller) != module_of(callee) and layer[module_of(caller)] > layer[module_of(callee)]
        )
        if show:
            print("callbacks up:")
            for caller, callee, name in callbacks:
                print(f"  {caller[len(FLOWS) :]} → {callee[len(FLOWS) :]}:{name}")
        return {
            "stops": len(self.stops),
            "files": len(files),
            "climbs": climbs,
            "returns": returns,
            "callbacks": len(callbacks),
            "steps_up": steps_up,
            "steps_back": steps_back,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="list the stops and the climbs")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    work = Path(tempfile.mkdtemp(prefix="corpus-walk-"))
    try:
        config = work / "sources.toml"
        config.write_text(
            (REPO / "seeds" / "sources.toml")
            .read_text(encoding="utf-8")
            .replace('path = "sample/', f'path = "{REPO}/seeds/sample/')
            .replace('path = "archive/', f'path = "{REPO}/seeds/archive/')
            .replace('path = "../warehouse"', f'path = "{work}/warehouse"'),
            encoding="utf-8",
        )
        from flows.ingest import ingest

        walk = Walk(str(config))
        threading.setprofile(walk.hook)  # type: ignore[arg-type]
        sys.setprofile(walk.hook)  # type: ignore[arg-type]
        try:
            summary = ingest(str(config))
        finally:
            sys.setprofile(None)
            threading.setprofile(None)  # type: ignore[arg-type]
        written = sum(s.written for s in summary.sources.values())
        figures = walk.report(args.list)
        print(
            f"walk of config_path from flows.ingest.ingest ({written} documents written): "
            f"{figures['stops']} stops in {figures['files']} files, {figures['climbs']} climbs back up, "
            f"{figures['returns']} returns to flows/ingest.py, {figures['callbacks']} callbacks up; "
            f"stop to stop: {figures['steps_up']} steps up, {figures['steps_back']} back into flows/ingest.py"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
