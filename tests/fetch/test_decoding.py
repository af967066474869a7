"""The fetcher's body decoder (fetch/decoding.py BodyDecoder): whatever pieces the network delivers, the
decoded body is the same, and no piece can make it produce more than its limit."""

from __future__ import annotations

import zlib

import brotli
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from flows.fetch.decoding import BadEncoding, BodyDecoder, TooLarge

pytestmark = pytest.mark.unit


def encode(data: bytes, coding: str) -> bytes:
    if coding == "gzip":
        packer = zlib.compressobj(6, zlib.DEFLATED, 31)
        return packer.compress(data) + packer.flush()
    if coding == "deflate":
        return zlib.compress(data)
    if coding == "br":
        return brotli.compress(data)
    if coding == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return data


def decode_in_pieces(body: bytes, content_encoding: str, limit: int, cuts: list[int]) -> bytes:
    decoder = BodyDecoder(content_encoding, limit)
    start = 0
    for cut in sorted(c % (len(body) + 1) for c in cuts):
        decoder.feed(body[start:cut])
        start = cut
    decoder.feed(body[start:])
    return decoder.finish()


CODINGS = st.lists(st.sampled_from(["gzip", "deflate", "br", "zstd", "identity"]), max_size=3)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=3000), codings=CODINGS, cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_any_pieces_of_any_coding_chain_decode_to_the_body(
    data: bytes, codings: list[str], cuts: list[int]
) -> None:
    body = data
    for coding in codings:  # Content-Encoding lists them in the order they were applied
        body = encode(body, coding)
    assert decode_in_pieces(body, ", ".join(codings), 10_000, cuts) == data


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
@pytest.mark.parametrize("piece", [1, 7, 65536, 1 << 22])
def test_a_bomb_stops_at_the_limit_whatever_the_pieces(coding: str, piece: int) -> None:
    bomb = encode(bytes(64 << 20), coding)
    decoder = BodyDecoder(coding, 1 << 20)
    with pytest.raises(TooLarge):
        for start in range(0, len(bomb), piece):
            decoder.feed(bomb[start : start + piece])
            assert len(decoder.out) <= 1 << 20
        decoder.finish()


def test_gzip_members_one_after_another_and_raw_deflate() -> None:
    assert (
        decode_in_pieces(encode(b"one ", "gzip") + encode(b"two", "gzip"), "gzip", 100, [3, 30]) == b"one two"
    )
    raw = zlib.compressobj(6, zlib.DEFLATED, -15)
    assert decode_in_pieces(raw.compress(b"raw deflate") + raw.flush(), "deflate", 100, [1]) == b"raw deflate"


def test_a_gzip_body_cut_short_keeps_what_decoded_and_a_false_claim_is_bad_encoding() -> None:
    text = "".join(f"line {i} of a page\n" for i in range(3000)).encode()
    whole = encode(text, "gzip")
    partial = decode_in_pieces(whole[: len(whole) // 2], "gzip", 100_000, [])
    assert len(partial) > 1000 and text.startswith(partial)
    with pytest.raises(BadEncoding):
        decode_in_pieces(b"<html>not gzip at all</html>", "gzip", 100, [])
    with pytest.raises(BadEncoding):
        decode_in_pieces(b"\x28\xb5\x2f\xfd" + b"\xff" * 20, "zstd", 100, [])


def test_an_unknown_coding_passes_the_bytes_and_the_raw_bytes_are_bounded_too() -> None:
    assert decode_in_pieces(b"<p>as sent</p>", "compress", 100, [4]) == b"<p>as sent</p>"
    with pytest.raises(TooLarge):
        decode_in_pieces(b"z" * 101, "compress", 100, [])
