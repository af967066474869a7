"""An HTTP exchange as it went over the wire, for the raw archive: the request as sent and the response as
received (its HTTP version and status line, header names as the server wrote them and in its order, the
body with its content encoding kept), and the address it came from. The transfer framing is undone by the
HTTP client; a chunked body is framed again from the pieces as they came, so the record says what its
headers say.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class WireRequest:
    method: str
    target: bytes  # path and query, as sent
    http_version: str
    headers: list[tuple[bytes, bytes]]

    def block(self) -> bytes:
        """The request as an HTTP message (no body: GET)."""
        head = [f"{self.method} ".encode() + self.target + f" {self.http_version}".encode()]
        head += [name + b": " + value for name, value in self.headers]
        return b"\r\n".join(head) + b"\r\n\r\n"


@dataclass
class Exchange:
    url: str
    request: WireRequest
    http_version: str  # HTTP/1.0, HTTP/1.1
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]  # as received: names in their case, in their order
    pieces: list[bytes] = field(default_factory=list)  # the body as received, content encoding kept
    ip: str | None = None  # the address connected to
    truncated: bool = False  # the body was not read to its end (a redirect's, past REDIRECT_BODY_BYTES)

    @property
    def chunked(self) -> bool:
        return any(
            name.lower() == b"transfer-encoding" and b"chunked" in value.lower()
            for name, value in self.headers
        )

    def head(self) -> bytes:
        """The status line and header block."""
        lines = [f"{self.http_version} {self.status} ".encode() + self.reason]
        lines += [name + b": " + value for name, value in self.headers]
        return b"\r\n".join(lines) + b"\r\n\r\n"

    def payload(self) -> bytes:
        """The body as it was sent: chunked again when its headers say so."""
        if not self.chunked:
            return b"".join(self.pieces)
        framed = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in self.pieces if piece]
        return b"".join(framed) + b"0\r\n\r\n"


# A redirect's body is archived up to this many bytes (it is a few lines of HTML, when there is one).
REDIRECT_BODY_BYTES = 1 << 16
