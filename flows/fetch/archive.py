"""The raw archive: every HTML response kept as WARC.gz under the warehouse, so that the corpus can be
re-extracted later without the network (`corpus reextract`).

    raw/source=<name>/<run_id>-<unit>-<n>.warc.gz

A file is written under a temporary name and renamed when complete (rotated past `rotate_bytes`), so a
crash leaves no partial archive visible. Documents point to their record as `origin` = "<file>#<offset>".
For a remote warehouse the file is written locally, read from there by extraction, then uploaded.
"""

from __future__ import annotations

import io
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from flows.config import RAW_ARCHIVE_ROTATE_BYTES
from flows.fetch.fetcher import Response

if TYPE_CHECKING:
    from flows.warehouse.store import Warehouse

RAW = "raw"
# Headers that described the bytes on the wire, not the (decoded) body that is stored.
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length"})


def raw_path(warehouse: Warehouse, source: str, name: str = "*.warc.gz") -> str:
    """A file of a source's raw archive (by default the glob of all of them): the archive's one layout."""
    return warehouse.path(RAW, f"source={source}", name)


@dataclass
class ArchiveFile:
    local_path: str  # where extraction reads it
    final_path: str  # where it lives in the warehouse (== local_path for a local warehouse)


@dataclass
class RawArchive:
    warehouse: Warehouse
    source: str
    prefix: str  # run id and unit, unique per writer
    rotate_bytes: int = RAW_ARCHIVE_ROTATE_BYTES
    files: list[ArchiveFile] = field(default_factory=list)
    _stream: io.BufferedWriter | None = None
    _writer: WARCWriter | None = None
    _temp: str | None = None

    def add(self, response: Response, fetched_at: datetime | None = None) -> str:
        """Append a response record; returns its origin, "<final file>#<offset>"."""
        if self._stream is None or self._stream.tell() >= self.rotate_bytes:
            self._rotate()
        assert self._stream is not None and self._writer is not None
        offset = self._stream.tell()
        headers = [(k, v) for k, v in response.headers if k.lower() not in _WIRE_HEADERS]
        headers.append(("Content-Length", str(len(response.body))))
        http_headers = StatusAndHeaders(
            f"{response.status} {_reason(response.status)}", headers, protocol="HTTP/1.1"
        )
        when = (fetched_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        record = self._writer.create_warc_record(
            response.url,
            "response",
            payload=io.BytesIO(response.body),
            http_headers=http_headers,
            warc_headers_dict={"WARC-Date": when},
        )
        self._writer.write_record(record)
        return f"{self.files[-1].final_path}#{offset}"

    def _rotate(self) -> None:
        self._finish_current()
        number = len(self.files)
        name = f"{self.prefix}-{number:03d}.warc.gz"
        wh = self.warehouse
        final = raw_path(wh, self.source, name)
        if wh.local:
            folder = os.path.dirname(final)
            os.makedirs(folder, exist_ok=True)
            local = final
            self._temp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
        else:
            local = os.path.join(tempfile.gettempdir(), f"corpus-raw-{uuid.uuid4().hex}-{name}")
            self._temp = local + ".tmp"
        self.files.append(ArchiveFile(local, final))
        self._stream = open(self._temp, "wb")  # noqa: SIM115 (closed in _finish_current)
        self._writer = WARCWriter(self._stream, gzip=True)

    def _finish_current(self) -> None:
        if self._stream is None:
            return
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        assert self._temp is not None
        os.replace(self._temp, self.files[-1].local_path)
        self._stream = self._writer = self._temp = None

    def close(self) -> list[ArchiveFile]:
        """Publish the last file; returns every file written (for extraction to read)."""
        self._finish_current()
        return self.files

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.close()
            if self._temp and os.path.exists(self._temp):
                os.unlink(self._temp)
            self._stream = self._writer = self._temp = None

    def upload(self) -> None:
        """Remote warehouses: copy the local files to their final place, then delete them."""
        wh = self.warehouse
        if wh.local:
            return
        for file in self.files:
            wh.fs.create_dir(os.path.dirname(file.final_path), recursive=True)
            with (
                open(file.local_path, "rb") as src,
                wh.fs.open_output_stream(file.final_path, compression=None) as dst,
            ):
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
            os.unlink(file.local_path)


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
