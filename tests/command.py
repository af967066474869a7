"""The one way tests run the `corpus` command: this checkout's .venv, as a user runs it."""

from __future__ import annotations

import os
import re
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


def corpus_at_terminal(
    *args: str | os.PathLike[str], columns: int = 80, timeout: float = 120
) -> tuple[int, str, str]:
    """Run `corpus ARGS...` with its stdout on a terminal (a pseudo-terminal of `columns` columns), as a
    person at a shell runs it; returns (exit code, what the terminal showed, stderr)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    process = subprocess.Popen(
        [str(CORPUS), *map(str, args)],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=environment({"TERM": "xterm", "NO_COLOR": "1", "COLUMNS": None}),
        text=True,
    )
    os.close(follower)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal's other end closed: the command is done writing
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    _, error = process.communicate(timeout=timeout)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown.decode("utf-8", "replace"))  # styles: bold, dim
    return process.returncode, text.replace("\r\n", "\n"), error
