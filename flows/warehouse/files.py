"""Which Parquet files in the tables' folders are the warehouse's own: the ones it published (their footer
carries `corpus.schema_version`, and each of their columns is one of the table's, with its type; files
written by an older version hold fewer columns). Anything else found there (a file of another schema, a
damaged file, one forged with the tables' column names) is left out of every read (views, search, dedup,
compaction) and named once, with the reason.

A verdict costs a footer read (a ranged GET on object storage), so verdicts are kept by path, size and
modification time in a file beside the catalog (`.checked-files.json`): each file is read once, and a
file that changes is judged again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

log = logging.getLogger("corpus.warehouse")

MARKER = b"corpus.schema_version"  # in the metadata of every file the warehouse publishes


@dataclass(frozen=True)
class Refused:
    """A file in a table's folder that the warehouse did not write, and why."""

    path: str
    reason: str


def verdict(fs: pafs.FileSystem, path: str, schema: pa.Schema, partitions: tuple[str, ...]) -> str | None:
    """Why the file at `path` is not one of the table's (None: it is)."""
    return examine(fs, path, schema, partitions)[0]


def layout(schema: pa.Schema) -> str:
    """A file's columns and their types, as a short digest (kept with each file's verdict): files of one
    layout are read together by DuckDB without comparing their footers (views.base_view_sql)."""
    spelled = ";".join(f"{field.name}:{field.type}" for field in schema)
    return hashlib.blake2b(spelled.encode(), digest_size=8).hexdigest()


def examine(
    fs: pafs.FileSystem, path: str, schema: pa.Schema, partitions: tuple[str, ...]
) -> tuple[str | None, str | None]:
    """(why the file is not one of the table's, or None; its layout when it is)."""
    try:
        with fs.open_input_file(path) as handle:
            found = pq.read_schema(handle)
    except (OSError, pa.ArrowException) as exc:
        return f"not a readable Parquet file ({' '.join(str(exc).split())[:160]})", None
    if MARKER not in (found.metadata or {}):
        return "not written by corpus (no corpus.schema_version in its metadata)", None
    for field in found:
        if field.name in partitions:
            continue
        if field.name not in schema.names:
            return f"column {field.name!r} is not one of the table's", None
        expected = schema.field(field.name).type
        if not _compatible(field.type, expected):
            return f"column {field.name!r} is {field.type}, the table's is {expected}", None
    return None, layout(found)


def _compatible(found: pa.DataType, expected: pa.DataType) -> bool:
    """The same type, as another writer may spell it (DuckDB, which writes compacted files, names a
    list's item `element` and a UTC time zone its own way)."""
    if pa.types.is_timestamp(found) and pa.types.is_timestamp(expected):
        return bool(found.tz) == bool(expected.tz)
    if pa.types.is_list(found) and pa.types.is_list(expected):
        return _compatible(found.value_type, expected.value_type)
    return bool(found.equals(expected))


class FileChecks:
    """The verdicts of one warehouse, loaded from and saved to `cache` (None: kept in memory only)."""

    def __init__(self, cache: str | None) -> None:
        self.cache = cache
        self._lock = threading.Lock()
        # path → [size, mtime_ns, reason or None, reported, layout or None]
        self._verdicts: dict[str, list[object]] = {}
        self._changed = False  # something to save
        self._read = False  # footers read since the last save: worth saving at once
        if cache is not None:
            try:
                with open(cache, encoding="utf-8") as handle:
                    loaded = json.load(handle)
                if isinstance(loaded, dict):
                    self._verdicts = loaded
            except (OSError, ValueError):
                pass  # none yet, or unreadable: judged again

    def judge(
        self, fs: pafs.FileSystem, info: pafs.FileInfo, schema: pa.Schema, partitions: tuple[str, ...]
    ) -> str | None:
        key = [info.size, info.mtime_ns]
        with self._lock:
            known = self._verdicts.get(info.path)
        if known is not None and known[:2] == key and len(known) == 5:  # (a verdict before layouts: again)
            reason = known[2]
        else:
            reason, found = examine(fs, info.path, schema, partitions)
            with self._lock:
                self._verdicts[info.path] = [*key, reason, False, found]
                self._changed = self._read = True
        if reason is not None:
            self._report(info.path, str(reason))
        return None if reason is None else str(reason)

    def accept(self, info: pafs.FileInfo, schema: pa.Schema) -> None:
        """A file this process has just published (with `schema`): the warehouse's own without reading it
        back."""
        with self._lock:
            self._verdicts[info.path] = [info.size, info.mtime_ns, None, False, layout(schema)]
            self._changed = True

    def layout_of(self, path: str) -> str | None:
        """The layout of a file judged the warehouse's own (None: not judged)."""
        with self._lock:
            known = self._verdicts.get(path)
        return str(known[4]) if known is not None and len(known) == 5 and known[4] is not None else None

    def _report(self, path: str, reason: str) -> None:
        with self._lock:
            entry = self._verdicts[path]
            if entry[3]:
                return
            entry[3] = True
            self._changed = True
        log.warning("ignored %s: %s", path, reason)

    def save(self, if_read: bool = False) -> None:
        """Write the verdicts beside the catalog (atomically; a warehouse that cannot be written keeps them
        in memory: files are judged again next time, and named again). With `if_read`, only when footers
        were read since the last save (a listing after commits that only added this process's files need
        not rewrite the file: the run saves them when it ends)."""
        with self._lock:
            if self.cache is None or not self._changed or (if_read and not self._read):
                return
            data = json.dumps(self._verdicts)
            self._changed = self._read = False
        temp = f"{self.cache}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.cache), exist_ok=True)
            with open(temp, "w", encoding="utf-8") as handle:
                handle.write(data)
            os.replace(temp, self.cache)
        except OSError:
            pass
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
