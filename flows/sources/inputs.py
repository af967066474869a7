"""Incremental local sources: which input files (HTML files, archives) a run has to read.

The warehouse remembers each input file it has ingested completely (the `inputs` table: path, size,
modification time, a fingerprint of its content). A later run skips a file whose size and modification
time are unchanged (or, touched, whose fingerprint is); reads a changed file again; and reads a WARC file
that only grew (a crawler appending records) from where the last run ended. A file is recorded only once
everything read from it is committed, so a run that stops half-way reads it again next time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flows.sources import storage

FINGERPRINT_BYTES = 1 << 16  # hashed at the start and at the end of what was read


@dataclass(frozen=True)
class InputFile:
    """An input file a unit reads (a local path or an object-storage URI), as it was when discovered."""

    path: str
    size: int
    mtime_ns: int
    fingerprint: str
    start: int = 0  # where reading begins: the end of the last read of a WARC file that grew since


def fingerprint(path: str, end: int) -> str:
    """blake2b of the first and the last FINGERPRINT_BYTES of the file's first `end` bytes, and `end`:
    a change to either end (a rewritten file) or of the length shows, at two small reads per file."""
    digest = hashlib.blake2b(str(end).encode(), digest_size=16)
    with storage.open_input(path) as handle:
        digest.update(handle.read(min(end, FINGERPRINT_BYTES)))
        if end > FINGERPRINT_BYTES:
            handle.seek(max(FINGERPRINT_BYTES, end - FINGERPRINT_BYTES))
            digest.update(handle.read(end - handle.tell()))
    return digest.hexdigest()


def current(path: str) -> InputFile:
    stat = storage.stat(path)
    return InputFile(path, stat.size, stat.mtime_ns, fingerprint(path, stat.size))


def to_read(
    files: list[storage.FileStat],
    known: dict[str, dict[str, Any]],
    full: bool,
    can_resume: Callable[[str], bool] = lambda path: False,
) -> list[InputFile]:
    """The files to read, and from where: all of them with `full`, else those new or changed since the
    state `known` (path → the last `inputs` row) recorded. With `can_resume`, a file that only grew is
    read from the end of its last read."""
    chosen = []
    for stat in files:
        path = stat.path
        last = None if full else known.get(path)
        if last is not None:
            read_to = int(last["size"])  # it was read to its end then
            if stat.size == read_to and stat.mtime_ns // 1000 == _microseconds(last["mtime"]):
                continue  # unchanged: not even read
            if stat.size == last["size"] and fingerprint(path, stat.size) == last["fingerprint"]:
                continue  # touched, same content
            if stat.size > read_to and can_resume(path) and fingerprint(path, read_to) == last["fingerprint"]:
                now = InputFile(path, stat.size, stat.mtime_ns, fingerprint(path, stat.size), read_to)
                chosen.append(now)
                continue
        chosen.append(InputFile(path, stat.size, stat.mtime_ns, fingerprint(path, stat.size)))
    return chosen


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _microseconds(when: datetime | None) -> int:
    """A stored modification time (a UTC timestamp, microseconds) as an integer, exactly."""
    return (when - _EPOCH) // timedelta(microseconds=1) if when is not None else -1


def mtime_of(state: InputFile) -> datetime:
    return _EPOCH + timedelta(microseconds=state.mtime_ns // 1000)
