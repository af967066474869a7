"""The `corpus` command of this checkout's .venv, run as a user runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / ".venv" / "bin" / "corpus"
# The offline sample of seeds/ as a files source, for a test's config.
SAMPLE_SOURCE = (
    f'[[sources]]\nname = "sample"\nkind = "files"\npath = "{REPO}/seeds/sample/**/*.html"\n'
    'url_prefix = "https://"\n'
)


def corpus(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(CORPUS), *args], input=stdin, capture_output=True, text=True, timeout=120)
