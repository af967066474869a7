"""The one way tests run the `corpus` command: this checkout's .venv, as a user runs it."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / ".venv" / "bin" / "corpus"
# The offline sample of seeds/ as a files source, for a test's config.
SAMPLE_SOURCE = (
    f'[[sources]]\nname = "sample"\nkind = "files"\npath = "{REPO}/seeds/sample/**/*.html"\n'
    'url_prefix = "https://"\n'
)


def environment(env: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment with `env` laid over it (a None value removes the variable)."""
    merged = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def corpus(
    *args: str | os.PathLike[str],
    stdin: str | None = None,
    env: Mapping[str, str | None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run `corpus ARGS...` to its end; its output is captured as text."""
    return subprocess.run(
        [str(CORPUS), *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment(env),
        cwd=cwd,
    )


def _terminal_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def start_corpus(
    *args: str | os.PathLike[str],
    env: Mapping[str, str | None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    **popen: object,
) -> subprocess.Popen[str]:
    """Start `corpus ARGS...` (a server, `serve`) and return at once; stdout and stderr are piped unless
    given. The command gets Ctrl-C as at a terminal: a suite started in the background (`make test &`)
    would otherwise hand it SIGINT ignored, and Python then installs no handler for it."""
    options: dict[str, object] = {
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        "preexec_fn": _terminal_signals,
        **popen,
    }
    return subprocess.Popen(  # type: ignore[call-overload, no-any-return]
        [str(CORPUS), *map(str, args)], text=True, env=environment(env), cwd=cwd, **options
    )
