"""Ids: run ids, and reading the 64-bit keys of doc ids and text hashes in bulk (dedup's exact index and the
search index keep millions of them as numpy arrays, never as Python strings)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa


def new_run_id() -> str:
    """Sortable by start time, unique across machines."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


_NIBBLE = np.zeros(256, np.uint64)
for _value, _char in enumerate(b"0123456789abcdef"):
    _NIBBLE[_char] = _value
_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


def hex64(values: list[str] | np.ndarray) -> np.ndarray:
    """The first 16 hex digits of each string as a uint64 (doc ids are 16, text hashes 32 digits)."""
    if not len(values):
        return np.empty(0, np.uint64)
    digits = np.asarray(values, dtype="S16").view(np.uint8).reshape(-1, 16)
    keys: np.ndarray = np.bitwise_or.reduce(_NIBBLE[digits] << _SHIFTS, axis=1)
    return keys


def first16(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The first 16 characters of each string of an Arrow column as an 'S16' array, read straight from
    Arrow's buffers: a million ids never become a million Python strings."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count or len(array) == 0 or not pa.types.is_string(array.type):
        return np.asarray(array.to_pylist(), dtype="S16")
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    if (np.diff(offsets) < 16).any():
        return np.asarray(array.to_pylist(), dtype="S16")
    return np.ascontiguousarray(data[offsets[:-1, None] + np.arange(16)]).view("S16").ravel()
