"""One URL → a response or a reject reason: safety and robots checks on every hop, redirects (≤ 5)
followed by hand and recorded, per-host pacing and concurrency caps, retries with exponential backoff and
jitter (connection errors, timeouts, 429, 5xx; Retry-After honoured), the body decoded as it streams
(fetch/decoding.py BodyDecoder) and capped at max_bytes of decoded bytes while it does.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit

import httpx

from flows.config import MAX_REDIRECTS, MAX_RETRY_WAIT, MAX_ROBOTS_BYTES, RETRY_BACKOFF_BASE, WebSource
from flows.errors import Blocked
from flows.fetch import Politeness, pacing, robots
from flows.fetch.decoding import BadEncoding, BodyDecoder, TooLarge
from flows.fetch.safety import check_url, pinned
from flows.fetch.wire import REDIRECT_BODY_BYTES, Exchange, WireRequest
from flows.records import HTML_TYPES

REDIRECT_STATUSES = (301, 302, 303, 307, 308)  # the statuses HTTP defines as redirects with a Location
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


@dataclass
class Response:
    url: str  # after redirects
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # decoded (content encoding undone)
    redirects: list[str] = field(default_factory=list)  # the URLs that redirected, in order
    exchange: Exchange | None = None  # as it went over the wire (get(keep_wire=True))
    hops: list[Exchange] = field(default_factory=list)  # the redirects on the way, over the wire
    seconds: float = 0.0  # the requests' time, redirects included (request sent to last byte; no waiting)

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass
class Failure:
    reason: str  # for the rejects table: robots, http_404, timeout, too_large, not_html, ...
    detail: str
    status: int | None = None
    redirects: list[str] = field(default_factory=list)
    seconds: float = 0.0  # the requests' time until it failed (the last attempt's; no waiting)


@dataclass
class _Retry:
    reason: str
    detail: str
    status: int | None = None
    retry_after: float | None = None


@dataclass
class _Redirect:
    location: str
    status: int
    exchange: Exchange | None = None
    seconds: float = 0.0


class Fetcher:
    """An HTTP client for one source's settings, keeping the pace and robots.txt rules of `politeness` (the
    run's; a fresh one when none is given); use `async with`."""

    def __init__(self, source: WebSource, politeness: Politeness | None = None) -> None:
        self.source = source
        self.politeness = politeness or Politeness()
        self._global = asyncio.Semaphore(source.concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(source.timeout),
            follow_redirects=False,
            headers={"User-Agent": source.user_agent, "Accept": ACCEPT},
            limits=httpx.Limits(max_connections=source.concurrency),
            event_hooks={"response": [_set_location_aside]},
        )

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        check_robots: bool = True,
        html_only: bool = True,
        max_bytes: int | None = None,
        keep_wire: bool = False,
    ) -> Response | Failure:
        """`keep_wire`: the response (and the redirects on the way) also as they went over the wire, for
        the raw archive."""
        redirects: list[str] = []
        hops: list[Exchange] = []
        current = url
        spent = 0.0  # seconds the redirects' requests took
        for _hop in range(MAX_REDIRECTS + 1):
            try:
                address = await check_url(current, self.source.allow_private)
            except Blocked as exc:
                if redirects and exc.reason == "bad_url":  # the page is fine; where it sends us is not
                    detail = f"{redirects[-1][:300]}: redirects to a bad URL: {exc}"
                    return Failure("bad_redirect", detail, redirects=redirects)
                return Failure(exc.reason, str(exc), redirects=redirects)
            delay = self.source.delay
            if check_robots:
                rules = await self.politeness.robots.rules_for(current, self._fetch_robots)
                if not rules.allows(current, self.source.user_agent):
                    if rules.unreachable is not None:  # the host, not its robots.txt, is the problem
                        detail = f"{current}: host unreachable ({rules.disallow_all})"
                        return Failure(rules.unreachable, detail, redirects=redirects)
                    why = rules.disallow_all or "disallowed by robots.txt"
                    return Failure("robots", f"{current}: {why}", redirects=redirects)
                delay = max(delay, rules.crawl_delay(self.source.user_agent))
            outcome = await self._with_retries(
                current, address, headers, delay, html_only, max_bytes, keep_wire
            )
            spent += outcome.seconds
            outcome.seconds = spent
            if isinstance(outcome, _Redirect):
                redirects.append(current)
                if outcome.exchange is not None:
                    hops.append(outcome.exchange)
                try:
                    target = urljoin(current, outcome.location)
                except ValueError as exc:
                    detail = f"{current[:300]}: redirects to {outcome.location[:300]!r}: {exc}"
                    return Failure("bad_redirect", detail, redirects=redirects)
                if target in redirects or target == url:
                    return Failure("redirect_loop", f"{url}: redirect loop at {target}", redirects=redirects)
                current = target
                headers = None  # conditional headers belong to the first URL only
                continue
            outcome.redirects = redirects
            if isinstance(outcome, Response):
                outcome.hops = hops
            return outcome
        return Failure(
            "too_many_redirects", f"{url}: more than {MAX_REDIRECTS} redirects", redirects=redirects
        )

    async def _fetch_robots(self, url: str) -> tuple[int, bytes]:
        outcome = await self.get(url, check_robots=False, html_only=False, max_bytes=MAX_ROBOTS_BYTES)
        if isinstance(outcome, Response):
            return outcome.status, outcome.body
        if outcome.status is not None:
            return outcome.status, b""
        if outcome.reason == "too_large":
            return 200, b""
        raise robots.Unreachable(outcome.reason, outcome.detail)

    async def _with_retries(
        self,
        url: str,
        address: str | None,
        headers: dict[str, str] | None,
        delay: float,
        html_only: bool,
        max_bytes: int | None,
        keep_wire: bool = False,
    ) -> Response | Failure | _Redirect:
        host = pacing.host_key(urlsplit(url).hostname)
        host_slots = self._hosts.setdefault(host, asyncio.Semaphore(self.source.host_concurrency))
        attempt = 0
        while True:
            async with self._global, host_slots:
                await self.politeness.pacer.wait_turn(host, delay)
                limit = max_bytes or self.source.max_bytes
                began = time.monotonic()
                outcome = await self._once(url, address, headers, html_only, limit, keep_wire)
                took = time.monotonic() - began
            if not isinstance(outcome, _Retry):
                outcome.seconds = took
                return outcome
            if attempt >= self.source.retries:
                return Failure(
                    outcome.reason,
                    f"{outcome.detail} (after {attempt + 1} attempts)",
                    outcome.status,
                    seconds=took,
                )
            wait = min(30.0, RETRY_BACKOFF_BASE * 2**attempt) * random.uniform(0.5, 1.5)
            if outcome.retry_after is not None:
                if outcome.retry_after > MAX_RETRY_WAIT:
                    return Failure(
                        outcome.reason,
                        f"{url}: Retry-After {outcome.retry_after:g} s is longer than {MAX_RETRY_WAIT:g} s",
                        outcome.status,
                    )
                wait = max(wait, outcome.retry_after)
            attempt += 1
            await asyncio.sleep(wait)

    async def _once(
        self,
        url: str,
        address: str | None,
        headers: dict[str, str] | None,
        html_only: bool,
        max_bytes: int,
        keep_wire: bool = False,
    ) -> Response | Failure | _Redirect | _Retry:
        target, host, extensions = pinned(url, address)  # connect to the address that was checked
        try:
            async with asyncio.timeout(self.source.timeout):
                request = self._client.stream(
                    "GET", target, headers={**(headers or {}), **host}, extensions=extensions
                )
                async with request as response:
                    wire = _exchange(url, response, address) if keep_wire else None
                    return await self._read(url, response, html_only, max_bytes, wire)
        except (TimeoutError, httpx.TimeoutException):
            return _Retry("timeout", f"{url}: no complete response within {self.source.timeout:g} s")
        except httpx.TooManyRedirects:  # pragma: no cover (redirects are followed by hand)
            return Failure("too_many_redirects", url)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol, UnicodeError) as exc:  # what url_problem missed
            return Failure("bad_url", f"{url[:300]}: {type(exc).__name__}: {exc}")

        except (httpx.TransportError, httpx.DecodingError) as exc:
            return _Retry("connect_error", f"{url}: {type(exc).__name__}: {exc or 'connection failed'}")

    async def _read(
        self,
        url: str,
        response: httpx.Response,
        html_only: bool,
        max_bytes: int,
        wire: Exchange | None = None,
    ) -> Response | Failure | _Redirect | _Retry:
        status = response.status_code
        location = response.extensions.get(_LOCATION)
        if status in REDIRECT_STATUSES and location:
            if wire is not None:  # its body too, as far as a redirect's body goes
                async for chunk in response.aiter_raw():
                    wire.pieces.append(chunk)
                    if sum(map(len, wire.pieces)) > REDIRECT_BODY_BYTES:
                        wire.truncated = True
                        break
            return _Redirect(location, status, wire)
        if status == 304:
            return Response(url, status, list(response.headers.multi_items()), b"")
        if status == 429 or status >= 500:
            return _Retry(
                f"http_{status}",
                f"{url}: HTTP {status}",
                status,
                _retry_after(response.headers.get("retry-after")),
            )
        if status >= 300:
            return Failure(f"http_{status}", f"{url}: HTTP {status}", status)
        content_type = response.headers.get("content-type", "")
        if html_only and content_type and not content_type.lower().startswith(HTML_TYPES):
            return Failure("not_html", f"{url}: content type {content_type}", status)
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            return Failure("too_large", f"{url}: {declared} bytes > max_bytes {max_bytes}", status)
        # Decoded here, as it comes, not by httpx: its decoders undo a whole network chunk at once (a 32 KB
        # zstd chunk can be a gigabyte), before a size check could run.
        decoder = BodyDecoder(response.headers.get("content-encoding"), max_bytes)
        try:
            async for chunk in response.aiter_raw():
                decoder.feed(chunk)
                if wire is not None:
                    wire.pieces.append(chunk)
            body = decoder.finish()
        except TooLarge:
            return Failure("too_large", f"{url}: more than max_bytes {max_bytes} bytes", status)
        except BadEncoding as exc:
            return Failure("bad_encoding", f"{url}: {exc}", status)
        return Response(url, status, list(response.headers.multi_items()), body, exchange=wire)


_LOCATION = "corpus_location"
_RAW_HEADERS = "corpus_raw_headers"


def _exchange(url: str, response: httpx.Response, address: str | None) -> Exchange:
    """The exchange's request and response heads as they went over the wire (the body comes as it is
    read)."""
    request = response.request
    reason = response.extensions.get("reason_phrase")
    return Exchange(
        url=url,
        # httpx speaks HTTP/1.1 (h11), whatever the server answers in
        request=WireRequest(request.method, request.url.raw_path, "HTTP/1.1", list(request.headers.raw)),
        http_version=response.http_version,
        status=response.status_code,
        reason=reason if isinstance(reason, bytes) else response.reason_phrase.encode("latin-1", "replace"),
        headers=response.extensions.get(_RAW_HEADERS) or list(response.headers.raw),
        ip=_peer(response) or address,
    )


def _peer(response: httpx.Response) -> str | None:
    """The address the response came from, as the connection says."""
    stream = response.extensions.get("network_stream")
    try:
        peer = stream.get_extra_info("server_addr") if stream is not None else None
    except Exception:  # a transport that cannot say
        return None
    return str(peer[0]) if isinstance(peer, tuple) and peer else None


async def _set_location_aside(response: httpx.Response) -> None:
    """Move a response's Location header aside, before httpx reads it: httpx builds the next request from
    it even when it is not to follow redirects, and raises on a Location it cannot parse, in the middle of
    the response. Redirects are followed by hand (Fetcher.get), each target checked like any URL."""
    response.extensions[_RAW_HEADERS] = list(response.headers.raw)  # as received, for the raw archive
    location = response.headers.get("location")
    if location is not None:
        response.extensions[_LOCATION] = location
        del response.headers["location"]


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
