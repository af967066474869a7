"""The built package works away from this checkout: `pip install` of the wheel elsewhere has the view
definitions (sql/, shipped as package data) and builds every view."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from flows.warehouse.views import view_files

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.e2e


def test_the_installed_wheel_builds_every_view(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            wheels,
            REPO,
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    [wheel] = wheels.glob("*.whl")
    shipped = {Path(name).name for name in zipfile.ZipFile(wheel).namelist() if name.startswith("flows/sql/")}
    assert shipped == {path.name for path in view_files()}

    # A fresh environment: the wheel installed into it, this environment's dependencies lent to it by a .pth
    # line (a path in a .pth file is not processed for .pth files of its own, so this checkout's editable
    # install does not come along).
    env = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env], check=True, timeout=60)
    [site] = env.glob("lib/python*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", site, wheel],
        check=True,
        capture_output=True,
        timeout=180,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "sources.toml").write_text(f'[warehouse]\npath = "{tmp_path / "wh"}"\n')
    script = (
        "import sys, flows; from flows.cli import main; "
        "print(flows.__file__, file=sys.stderr); sys.argv = ['corpus', *sys.argv[1:]]; main()"
    )
    done = subprocess.run(
        [env / "bin" / "python", "-c", script, "views", "--config", "sources.toml"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert str(site) in done.stderr, f"flows was not imported from the installed wheel: {done.stderr}"
    assert done.stdout.startswith(f"{len(shipped)} views in "), done.stdout
