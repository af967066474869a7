"""Where input files live: a local path, or a URI of object storage (s3://bucket/key, and any other
filesystem pyarrow knows: gs://, hdfs://...). Local sources (`files`, `warc`) list, stat and read their
inputs only through here, so a source whose `path` is `s3://bucket/in/*.warc.gz` works like a local
glob, and each worker of a cluster reads its own byte ranges straight from the bucket.

S3 is reached as the warehouse reaches it (flows/warehouse/remote.py): credentials and region from the
standard AWS variables, another S3 service from AWS_ENDPOINT_URL(_S3).

A remote file is read in ranged GETs that grow while reading is sequential, up to BUFFER_BYTES
(RemoteFile): a reader's small reads cost no request of their own, and a short byte range no large one.
"""

from __future__ import annotations

import fnmatch
import functools
import glob
import io
import os
import stat as statmodule
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyarrow.fs as pafs

from flows.errors import SourceError
from flows.warehouse.remote import endpoint, s3_filesystem

BUFFER_BYTES = 4 << 20  # the largest ranged GET: S3 answers in ~20-50 ms whatever the size up to a few MB


@dataclass(frozen=True)
class FileStat:
    """A listed input file: its path (or URI), size and modification time."""

    path: str
    size: int
    mtime_ns: int


def is_remote(path: str) -> bool:
    return "://" in path and not path.startswith("file://")


def _scheme(uri: str) -> str:
    return uri.split("://", 1)[0].lower()


@functools.lru_cache(maxsize=16)
def _filesystem(scheme: str, netloc: str, environment: tuple[str | None, ...]) -> pafs.FileSystem:
    """One filesystem object per process and place (S3 clients are costly to make, cheap to reuse)."""
    if scheme == "s3":
        return s3_filesystem(f"s3://{netloc}")[0]
    return pafs.FileSystem.from_uri(f"{scheme}://{netloc}/")[0]


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem for a remote URI, and the path in it ("bucket/key"). Split by hand: a key
    may hold "?", "#" or "[" (glob characters), which a URL parser would take for a query or a host."""
    scheme, _, path = uri.partition("://")
    netloc = path.split("/", 1)[0]
    environment = (
        endpoint(),
        os.environ.get("AWS_REGION"),
        os.environ.get("AWS_DEFAULT_REGION"),
        os.environ.get("AWS_ACCESS_KEY_ID"),
    )
    try:
        fs = _filesystem(scheme.lower(), netloc, environment)
    except (OSError, ValueError, ImportError) as exc:
        raise SourceError(f"{uri}: cannot open its filesystem: {' '.join(str(exc).split())}") from None
    return fs, path


def list_files(pattern: str) -> list[FileStat]:
    """The files a glob matches (`*`, `?`, `[...]` within a folder, `**` across folders), sorted by path.
    A local glob is matched by the `glob` module; a remote one by listing the objects below the part of
    the pattern before its first wildcard."""
    if not is_remote(pattern):
        found = []
        for path in sorted(glob.glob(pattern, recursive=True)):
            try:
                found_stat = os.stat(path)
            except OSError:
                continue  # gone since it was listed
            if statmodule.S_ISREG(found_stat.st_mode):  # one stat per file, not a second for isfile
                found.append(FileStat(path, found_stat.st_size, found_stat.st_mtime_ns))
        return found
    scheme = _scheme(pattern)
    fs, path = filesystem(pattern)
    parts = path.rstrip("/").split("/")
    fixed = _until_magic(parts)
    try:
        if len(fixed) == len(parts):  # no wildcard: one object
            info = fs.get_file_info(path)
            infos = [info] if info.type == pafs.FileType.File else []
        else:
            selector = pafs.FileSelector("/".join(fixed), allow_not_found=True, recursive=True)
            infos = [
                info
                for info in fs.get_file_info(selector)
                if info.type == pafs.FileType.File and _matches(info.path.split("/"), parts)
            ]
        bucket = parts[0]
        if not infos and fs.get_file_info(bucket).type == pafs.FileType.NotFound:
            raise SourceError(f"{pattern}: cannot list: bucket {bucket!r} not found")
    except OSError as exc:
        raise SourceError(f"{pattern}: cannot list: {' '.join(str(exc).split())}") from None
    return sorted(
        (FileStat(f"{scheme}://{info.path}", info.size, info.mtime_ns or 0) for info in infos),
        key=lambda stat: stat.path,
    )


def _matches(names: list[str], patterns: list[str]) -> bool:
    """Whether a path's components match a glob's, `**` matching any number of folders (as glob's
    recursive mode: hidden names are matched by `*` too, since object keys have no hidden files)."""
    if not patterns:
        return not names
    head, rest = patterns[0], patterns[1:]
    if head == "**":
        return any(_matches(names[k:], rest) for k in range(len(names) + 1))
    return bool(names) and fnmatch.fnmatchcase(names[0], head) and _matches(names[1:], rest)


def glob_base(pattern: str) -> str:
    """The folder part of a glob before its first wildcard (file URLs are made relative to it)."""
    if is_remote(pattern):
        scheme, _, rest = pattern.partition("://")
        parts = rest.rstrip("/").split("/")
        fixed = _until_magic(parts)
        if len(fixed) == len(parts):
            fixed = fixed[:-1]  # one object: its folder
        return f"{scheme}://{'/'.join(fixed)}"
    local = Path(pattern).parts
    fixed = _until_magic(list(local))
    base = Path(*fixed) if fixed else Path("/")
    return str(base if base.is_dir() or not fixed else base.parent)


def _until_magic(parts: list[str]) -> list[str]:
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return fixed


def relative(path: str, base: str) -> str:
    """`path` below the folder `base`, with forward slashes."""
    if is_remote(path):
        return path[len(base.rstrip("/")) + 1 :] if path.startswith(base.rstrip("/") + "/") else path
    return Path(path).relative_to(base).as_posix()


def stat(path: str) -> FileStat:
    if not is_remote(path):
        found = os.stat(path)
        return FileStat(path, found.st_size, found.st_mtime_ns)
    fs, inner = filesystem(path)
    info = fs.get_file_info(inner)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"{path}: no such object")
    return FileStat(path, info.size, info.mtime_ns or 0)


def size(path: str) -> int:
    return stat(path).size


def open_input(path: str) -> BinaryIO:
    """A seekable binary stream of the file (for a remote one: ranged reads, see RemoteFile)."""
    if not is_remote(path):
        return open(path, "rb")
    fs, inner = filesystem(path)
    return cast(BinaryIO, RemoteFile(fs.open_input_file(inner)))  # read, seek, tell, close


class RemoteFile(io.RawIOBase):
    """A pyarrow random-access file read in ranges that grow while reading goes on sequentially (from
    FIRST_READ to BUFFER_BYTES) and start small again after a seek elsewhere: a reader that wants a few
    hundred kilobytes (a byte range of a WARC, the head of a gzip member) costs one small request, one
    that reads on costs few large ones. Reads are full (short only at the end of the file)."""

    FIRST_READ = 1 << 18

    def __init__(self, file: Any) -> None:  # a pyarrow NativeFile
        self._file = file
        self._size = int(file.size())
        self._position = 0
        self._cached = b""
        self._cached_at = 0
        self._window = self.FIRST_READ

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def read(self, size: int | None = -1) -> bytes:
        end = self._size if size is None or size < 0 else min(self._size, self._position + size)
        parts = []
        while self._position < end:
            offset = self._position - self._cached_at
            if not 0 <= offset < len(self._cached):
                self._fetch()
                offset = 0
            part = self._cached[offset : offset + end - self._position]
            parts.append(part)
            self._position += len(part)
        return b"".join(parts)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _fetch(self) -> None:
        sequential = self._position == self._cached_at + len(self._cached) and self._cached
        self._window = min(BUFFER_BYTES, self._window * 2) if sequential else self.FIRST_READ
        self._cached = self._file.read_at(min(self._window, self._size - self._position), self._position)
        self._cached_at = self._position
        if not self._cached:
            raise OSError(f"read nothing at offset {self._position} of {self._size} bytes")

    def close(self) -> None:
        self._file.close()
        super().close()
