"""The `corpus` command of this checkout's .venv, run as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "corpus"


def corpus(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(CORPUS), *args], input=stdin, capture_output=True, text=True, timeout=120)
