"""The raw archive: every page fetched kept as WARC 1.1 (gzip, a member per record) under the warehouse,
so that the corpus can be re-extracted later without the network (`corpus reextract`) and replayed
(pywb), as any crawler's archive is.

    raw/source=<name>/<run_id>-<unit>-<n>.warc.gz

It holds what went over the wire (fetch/wire.py): per file a `warcinfo` record; per fetch a `response`
record (the server's status line and HTTP version, its header names and order, the body as sent: content
encoding kept, a chunked body framed again) and a `request` record (WARC-Concurrent-To the response),
with WARC-IP-Address; each redirect on the way as a response and request pair of its own, before the
page. Block and payload digests are SHA-1 (base32), the payload being the bytes after the HTTP header
block. Extraction decodes the body as it does for any archive (sources/warc.py).

A file is written under a temporary name and renamed when complete (rotated past `rotate_bytes`), so a
crash leaves no partial archive visible. Documents point to their record as `origin` = "<file>#<offset>".
For a remote warehouse the file is written locally, read from there by extraction, then uploaded.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import tempfile
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flows.config import RAW_ARCHIVE_ROTATE_BYTES
from flows.fetch.fetcher import Response
from flows.fetch.wire import Exchange
from flows.warehouse.store import RAW_ARCHIVE

if TYPE_CHECKING:
    from flows.warehouse.store import Warehouse


def raw_path(warehouse: Warehouse, source: str, name: str = "*.warc.gz") -> str:
    """A file of a source's raw archive (by default the glob of all of them): the archive's one layout."""
    return warehouse.path(RAW_ARCHIVE, f"source={source}", name)


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
    user_agent: str = ""  # for the warcinfo record
    _stream: io.BufferedWriter | None = None
    _temp: str | None = None

    def add(self, response: Response, fetched_at: datetime | None = None) -> str:
        """Append the fetch's records (its redirects, then the page); returns the page's origin,
        "<file relative to the warehouse>#<offset>"."""
        if self._stream is None or self._stream.tell() >= self.rotate_bytes:
            self._rotate()
        assert self._stream is not None
        when = (fetched_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        for hop in response.hops:
            self._write_exchange(hop, when)
        offset = self._stream.tell()
        if response.exchange is None:
            raise ValueError(f"{response.url}: fetched without its wire form (Fetcher.get keep_wire)")
        self._write_exchange(response.exchange, when)
        return f"{self.warehouse.relative(self.files[-1].final_path)}#{offset}"

    def _write_exchange(self, exchange: Exchange, when: str) -> None:
        head = exchange.head()
        block = head + exchange.payload()
        extra = [("WARC-IP-Address", exchange.ip)] if exchange.ip else []
        if exchange.truncated:
            extra.append(("WARC-Truncated", "length"))
        response_id = self._write(
            "response", exchange.url, when, block, "application/http; msgtype=response", extra, len(head)
        )
        request = [("WARC-Concurrent-To", response_id)] + (
            [("WARC-IP-Address", exchange.ip)] if exchange.ip else []
        )
        self._write(
            "request",
            exchange.url,
            when,
            exchange.request.block(),
            "application/http; msgtype=request",
            request,
        )

    def _write(
        self,
        kind: str,
        uri: str | None,
        when: str,
        block: bytes,
        content_type: str,
        extra: list[tuple[str, str]],
        payload_at: int | None = None,
    ) -> str:
        """One record, as a gzip member of its own; returns its WARC-Record-ID."""
        assert self._stream is not None
        record_id = f"<urn:uuid:{uuid.uuid4()}>"
        fields = [("WARC-Type", kind), ("WARC-Record-ID", record_id), ("WARC-Date", when)]
        if uri is not None:
            fields.append(("WARC-Target-URI", uri))
        fields += extra
        fields.append(("WARC-Block-Digest", _digest(block)))
        if payload_at is not None:
            fields.append(("WARC-Payload-Digest", _digest(block[payload_at:])))
        fields += [("Content-Type", content_type), ("Content-Length", str(len(block)))]
        head = "WARC/1.1\r\n" + "".join(f"{name}: {value}\r\n" for name, value in fields) + "\r\n"
        record = head.encode("utf-8") + block + b"\r\n\r\n"
        self._stream.write(gzip.compress(record, compresslevel=6, mtime=0))
        return record_id

    def _warcinfo(self, name: str) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            software = f"corpus/{version('corpus')}"
        except PackageNotFoundError:  # pragma: no cover (run from a checkout without installing)
            software = "corpus"
        fields = {
            "software": software,
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
            "isPartOf": self.source,
            "robots": "obey",
            "http-header-user-agent": self.user_agent,
        }
        block = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v).encode("utf-8")
        when = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self._write("warcinfo", None, when, block, "application/warc-fields", [("WARC-Filename", name)])

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
        self._warcinfo(name)

    def _finish_current(self) -> None:
        if self._stream is None:
            return
        self._stream.flush()
        os.fsync(self._stream.fileno())
        self._stream.close()
        assert self._temp is not None
        os.replace(self._temp, self.files[-1].local_path)
        self._stream = self._temp = None

    def close(self) -> list[ArchiveFile]:
        """Publish the last file; returns every file written (for extraction to read)."""
        self._finish_current()
        return self.files

    def abort(self) -> None:
        if self._stream is not None:
            self._stream.close()
            if self._temp and os.path.exists(self._temp):
                os.unlink(self._temp)
            self._stream = self._temp = None

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


def is_raw_archive(warehouse: Warehouse | None, path: str) -> bool:
    """Whether `path` is a file of the warehouse's raw archive (written here: its request, warcinfo and
    redirect records are bookkeeping, not pages). No warehouse (a local kind read on its own): no."""
    return warehouse is not None and path.startswith(warehouse.path(RAW_ARCHIVE) + "/")


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode()
