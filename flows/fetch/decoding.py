"""Undoing what the wire did to a body: chunked Transfer-Encoding and Content-Encoding (gzip, x-gzip,
deflate, br, zstd), as crawlers store it in their archives, and gzip files on disk.

Every decoder is bounded: it stops at `limit` bytes of output, so a decompression bomb costs at most
`limit` bytes of memory and becomes a `too_large` reject (TooLarge). A body whose headers claim an encoding
it does not have (a crawler that stored the decoded body and kept the header) is kept as it is; one that
has the encoding's signature but does not decode is a `bad_encoding` reject (BadEncoding).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import IO, Protocol, cast

_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]+[ \t]*(;[^\r\n]*)?\r?\n")
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class DecodeError(Exception):
    """The body could not be decoded; the message says why."""


class TooLarge(DecodeError):
    """Decoding would pass the size limit."""


class BadEncoding(DecodeError):
    """The body is damaged: it has the encoding's signature and does not decode."""


def decode_body(
    body: bytes, content_encoding: str | None, transfer_encoding: str | None, limit: int
) -> tuple[bytes, str]:
    """The body as the server meant it: (decoded bytes, what was undone, e.g. "chunked, gzip")."""
    undone = []
    if transfer_encoding and "chunked" in transfer_encoding.lower():
        dechunked = dechunk(body, limit)
        if dechunked is not None:
            body = dechunked
            undone.append("chunked")
    for coding in reversed([c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]):
        decoded = _decode_one(body, coding, limit)
        if decoded is not None:
            body = decoded
            undone.append(coding)
    return body, ", ".join(undone)


def dechunk(body: bytes, limit: int) -> bytes | None:
    """A chunked body joined; None when the body is not chunked after all (stored already joined)."""
    out = bytearray()
    position = 0
    while True:
        match = _CHUNK_SIZE.match(body, position)
        if match is None:
            return None if position == 0 else bytes(out)  # a body cut short keeps its whole chunks
        size = int(match.group(0).split(b";")[0].strip(), 16)
        start = match.end()
        if size == 0:
            return bytes(out)
        if start + size > len(body):
            if position == 0:
                return None
            out += body[start:]  # the last chunk was cut short: what there is of it
            return bytes(out)
        out += body[start : start + size]
        if len(out) > limit:
            raise TooLarge(f"more than {limit} bytes once de-chunked")
        position = start + size
        if body[position : position + 2] == b"\r\n":
            position += 2
        elif body[position : position + 1] == b"\n":
            position += 1


def _decode_one(body: bytes, coding: str, limit: int) -> bytes | None:
    """One Content-Encoding undone; None when the body does not carry it (kept as it is)."""
    if coding in ("identity", ""):
        return None
    if coding in ("gzip", "x-gzip"):
        if not body.startswith(_GZIP_MAGIC):
            return None
        return inflate(body, limit, 16 + zlib.MAX_WBITS, coding, partial=True)
    if coding == "deflate":  # zlib-wrapped as the RFC says, or raw deflate as some servers send
        for wbits in (zlib.MAX_WBITS, -zlib.MAX_WBITS):
            try:
                return inflate(body, limit, wbits, coding, partial=True)
            except BadEncoding:
                continue
        return None
    if coding == "br":
        return _brotli(body, limit)
    if coding == "zstd":
        if not body.startswith(_ZSTD_MAGIC):
            return None
        return _zstd(body, limit)
    return None  # an encoding no library here decodes: the body goes on as it is (extraction decides)


def inflate(
    data: bytes, limit: int, wbits: int = 16 + zlib.MAX_WBITS, what: str = "gzip", partial: bool = False
) -> bytes:
    """zlib/gzip/deflate data, at most `limit` bytes of it; several gzip members are read one after the
    other. TooLarge past the limit, BadEncoding for damaged data; with `partial`, a body cut short or
    damaged after some output gives that output (as browsers and crawlers' replay tools show it)."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits)
        try:
            out += inflater.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            if partial and out:
                return bytes(out)
            raise BadEncoding(f"{what} data does not decode: {exc}") from None
        if len(out) > limit:
            raise TooLarge(f"more than {limit} bytes once decompressed")
        if not inflater.eof:
            if inflater.unconsumed_tail:
                raise TooLarge(f"more than {limit} bytes once decompressed")
            if partial:
                out += inflater.flush()
                if out:
                    return bytes(out[: limit + 1]) if len(out) <= limit else _too_large(limit)
            raise BadEncoding(f"{what} data is cut short")
        rest = inflater.unused_data
        if not rest.startswith(_GZIP_MAGIC) or wbits != 16 + zlib.MAX_WBITS:
            break  # trailing bytes after the stream are ignored, as browsers do
    return bytes(out)


def _too_large(limit: int) -> bytes:
    raise TooLarge(f"more than {limit} bytes once decompressed")


def _brotli(body: bytes, limit: int) -> bytes | None:
    import brotli

    decompressor = brotli.Decompressor()
    try:
        out = bytearray(decompressor.process(body, output_buffer_limit=limit + 1))
        while (
            len(out) <= limit and not decompressor.is_finished() and not decompressor.can_accept_more_data()
        ):
            out += decompressor.process(b"", output_buffer_limit=limit + 1 - len(out))
    except brotli.error:
        return None  # brotli has no signature: a body that does not decode was not brotli
    if len(out) > limit:
        raise TooLarge(f"more than {limit} bytes once decompressed")
    if not decompressor.is_finished():
        raise BadEncoding("br data is cut short")
    return bytes(out)


def _zstd(body: bytes, limit: int) -> bytes:
    import io

    import zstandard

    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(body), read_across_frames=True) as reader:
            out = reader.read(limit + 1)
    except zstandard.ZstdError as exc:
        raise BadEncoding(f"zstd data does not decode: {exc}") from None
    if len(out) > limit:
        raise TooLarge(f"more than {limit} bytes once decompressed")
    return bytes(out)


# ---- streaming: a body decoded as it comes over the network


class _Budget:
    """How many decoded bytes may still come: raises TooLarge past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @property
    def left(self) -> int:
        return self.limit + 1 - self.used  # one more than the limit: enough to know it is passed

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise TooLarge(f"more than {self.limit} bytes once decoded")


class _Zlib:
    """gzip (wbits 31; several members one after the other) or deflate (zlib-wrapped, or raw as some
    servers send it: decided from the first two bytes)."""

    def __init__(self, coding: str, budget: _Budget) -> None:
        self.coding = coding
        self.budget = budget
        self.inflater: zlib._Decompress | None = None
        self.head = b""  # the first bytes, until the format is known

    def feed(self, data: bytes) -> bytes:
        if self.inflater is None:
            self.head += data
            if len(self.head) < 2:
                return b""
            data, self.head = self.head, b""
            self.inflater = zlib.decompressobj(self._wbits(data))
        out = bytearray()
        while data:
            try:
                piece = self.inflater.decompress(data, self.budget.left)
            except zlib.error as exc:
                raise BadEncoding(f"{self.coding} data does not decode: {exc}") from None
            self.budget.spend(len(piece))
            out += piece
            if self.inflater.eof and self.inflater.unused_data.startswith(_GZIP_MAGIC):
                data = self.inflater.unused_data  # another gzip member
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            else:
                data = self.inflater.unconsumed_tail
        return bytes(out)

    def _wbits(self, head: bytes) -> int:
        if self.coding != "deflate":
            return 16 + zlib.MAX_WBITS
        zlib_header = head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0
        return zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS

    def finish(self) -> bytes:
        if self.inflater is None:
            if self.head:
                raise BadEncoding(f"{self.coding} data is cut short")
            return b""
        piece = self.inflater.flush(self.budget.left)  # a stream cut short keeps what decodes, as browsers do
        self.budget.spend(len(piece))
        return piece


class _Brotli:
    def __init__(self, coding: str, budget: _Budget) -> None:
        import brotli

        self.error = brotli.error
        self.decompressor = brotli.Decompressor()
        self.budget = budget

    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        try:
            piece = self.decompressor.process(data, output_buffer_limit=self.budget.left)
            while True:
                self.budget.spend(len(piece))
                out += piece
                if self.decompressor.is_finished() or self.decompressor.can_accept_more_data():
                    break
                piece = self.decompressor.process(b"", output_buffer_limit=self.budget.left)
        except self.error as exc:
            raise BadEncoding(f"br data does not decode: {exc}") from None
        return bytes(out)

    def finish(self) -> bytes:
        return b""


class _Sink:
    """Where zstandard's stream writer puts what it decodes: counted against the budget as it comes."""

    def __init__(self, budget: _Budget) -> None:
        self.budget = budget
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.budget.spend(len(data))
        self.parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


class _Zstd:
    WRITE_SIZE = 1 << 16  # zstandard hands over what it decodes in pieces this size at most

    def __init__(self, coding: str, budget: _Budget) -> None:
        import zstandard

        self.error = zstandard.ZstdError
        self.sink = _Sink(budget)
        self.writer = zstandard.ZstdDecompressor().stream_writer(
            cast(IO[bytes], self.sink), write_size=self.WRITE_SIZE, write_return_read=True
        )

    def feed(self, data: bytes) -> bytes:
        try:
            self.writer.write(data)
        except self.error as exc:
            raise BadEncoding(f"zstd data does not decode: {exc}") from None
        return self.sink.take()

    def finish(self) -> bytes:
        return b""


class _Identity:
    def __init__(self, coding: str, budget: _Budget) -> None:
        self.budget = budget

    def feed(self, data: bytes) -> bytes:
        self.budget.spend(len(data))
        return data

    def finish(self) -> bytes:
        return b""


class _Step(Protocol):
    def feed(self, data: bytes) -> bytes: ...
    def finish(self) -> bytes: ...


_STREAMING: Mapping[str, Callable[[str, _Budget], _Step]] = MappingProxyType(
    {"gzip": _Zlib, "x-gzip": _Zlib, "deflate": _Zlib, "br": _Brotli, "zstd": _Zstd}
)


class BodyDecoder:
    """A response body decoded as it arrives, the Content-Encoding undone (several codings in turn, the
    last applied first undone): every step stops at `limit` bytes of output, so a decompression bomb costs
    at most about `limit` bytes however its bytes come (TooLarge), and damaged data is BadEncoding. The raw
    bytes are bounded by the limit too (a stream of compressed nothing). An encoding no library here
    decodes is passed on as it is, as browsers and httpx do."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        self.limit = limit
        self.raw = _Budget(limit)
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        self.steps: list[_Step] = [
            _STREAMING.get(coding, _Identity)(coding, _Budget(limit))
            for coding in reversed(codings)
            if coding != "identity"
        ]
        self.out = bytearray()

    def feed(self, data: bytes) -> None:
        self.raw.spend(len(data))
        for step in self.steps:
            data = step.feed(data)
        if len(self.out) + len(data) > self.limit:
            raise TooLarge(f"more than {self.limit} bytes once decoded")
        self.out += data

    def finish(self) -> bytes:
        for index, step in enumerate(self.steps):
            data = step.finish()
            for later in self.steps[index + 1 :]:
                data = later.feed(data)
            self.out += data
        if len(self.out) > self.limit:
            raise TooLarge(f"more than {self.limit} bytes once decoded")
        return bytes(self.out)
