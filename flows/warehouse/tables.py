"""The stored tables: the one Arrow schema of each, and how it is partitioned. Stored files carry
SCHEMA_VERSION in their metadata; views read files written with fewer columns too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import pyarrow as pa

from flows.records import COUNTS, SCHEMA_VERSION

__all__ = [
    "DOCUMENT_SCHEMA",
    "FETCH_SCHEMA",
    "REJECT_SCHEMA",
    "RUN_SCHEMA",
    "SCHEMA_VERSION",
    "TABLES",
    "UTC_TIMESTAMP",
    "Table",
]

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")

DOCUMENT_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),  # hash of canonical_url and content_hash: one row per stored version
        ("url", pa.string()),  # where the page was read from
        ("canonical_url", pa.string()),  # normalised URL (page's own canonical when on the same site)
        ("title", pa.string()),
        ("author", pa.string()),
        ("published_at", pa.date32()),  # the article's own date, when the page states one
        ("language", pa.string()),  # ISO 639-1, detected from the text
        ("sitename", pa.string()),
        ("description", pa.string()),
        ("tags", pa.list_(pa.string())),
        ("text", pa.string()),  # main text: NFC, whitespace collapsed, paragraphs separated by newlines
        ("word_count", pa.int32()),
        ("content_hash", pa.string()),  # blake2b-128 of text
        ("duplicate_of", pa.string()),  # doc_id of the stored document it matched (exact or near copy)
        ("cluster_id", pa.string()),  # doc_id of the first document of its article's cluster
        ("similarity", pa.float32()),  # verified shingle similarity to duplicate_of (1.0 for exact copies)
        ("page_type", pa.string()),  # og:type or schema.org type the page declares (article, website...)
        ("fetched_at", UTC_TIMESTAMP),
        ("run_id", pa.string()),
        ("origin", pa.string()),  # file path, or WARC file#offset
        ("schema_version", pa.int16()),
    ]
)

REJECT_SCHEMA = pa.schema(
    [
        ("url", pa.string()),
        ("reason", pa.string()),  # no_text, extract_timeout, extract_error, too_large, not_html, unreadable
        ("detail", pa.string()),
        ("origin", pa.string()),
        ("fetched_at", UTC_TIMESTAMP),
        ("run_id", pa.string()),
        ("schema_version", pa.int16()),
    ]
)

RUN_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("source", pa.string()),
        ("kind", pa.string()),
        ("location", pa.string()),
        ("status", pa.string()),  # running, completed, failed, interrupted
        ("started_at", UTC_TIMESTAMP),
        ("ended_at", UTC_TIMESTAMP),
        *((count, pa.int64()) for count in COUNTS),  # records.Counts: seen, extracted, ... unchanged
        ("seconds", pa.float64()),
        ("error", pa.string()),
        ("priority", pa.int32()),  # the source's configured priority at the time of the run
        ("schema_version", pa.int16()),
    ]
)

FETCH_SCHEMA = pa.schema(
    [
        ("url", pa.string()),  # as listed by the source
        ("final_url", pa.string()),  # after redirects
        ("status", pa.int32()),  # HTTP status of the last response (null when none came)
        ("outcome", pa.string()),  # new, changed, unchanged, not_modified, or a reject reason
        ("etag", pa.string()),
        ("last_modified", pa.string()),
        ("body_hash", pa.string()),  # blake2b-128 of the body: an unchanged body is not extracted again
        ("redirects", pa.list_(pa.string())),  # URLs that redirected, in order
        ("origin", pa.string()),  # raw archive record, "<warc file>#<offset>" (new and changed only)
        ("fetched_at", UTC_TIMESTAMP),
        ("run_id", pa.string()),
        ("schema_version", pa.int16()),
    ]
)

SIGNATURE_SCHEMA = pa.schema(
    [
        ("doc_id", pa.string()),
        ("cluster_id", pa.string()),
        ("bands", pa.list_(pa.uint32())),  # LSH band hashes of the text's MinHash (flows/dedup/near.py)
        ("paragraphs", pa.list_(pa.uint32())),  # hashes of its paragraphs (to tell furniture from text)
        ("doc_file", pa.string()),  # the documents file that holds the row (to read its text back)
        ("run_id", pa.string()),
        ("schema_version", pa.int16()),
    ]
)


INPUT_SCHEMA = pa.schema(
    [
        ("path", pa.string()),  # the local file
        ("size", pa.int64()),  # bytes when it was read
        ("mtime", UTC_TIMESTAMP),  # its modification time then
        ("fingerprint", pa.string()),  # blake2b of its first and last 64 KB read (see sources/inputs.py)
        ("start", pa.int64()),  # where this run began reading it (0, or the end of a grown WARC's last read)
        ("records", pa.int64()),  # pages read from it by this run
        ("documents", pa.int64()),  # of which extracted
        ("rejects", pa.int64()),  # of which rejected
        ("skipped", pa.int64()),  # archive records that are not HTTP responses
        ("ingested_at", UTC_TIMESTAMP),  # when the run had committed everything read from it
        ("run_id", pa.string()),
        ("schema_version", pa.int16()),
    ]
)


@dataclass(frozen=True)
class Table:
    name: str
    schema: pa.Schema
    partitions: tuple[str, ...]
    glob: str  # below the table's folder, for DuckDB


DOCUMENTS = Table("documents", DOCUMENT_SCHEMA, ("source", "month"), "*/*/*.parquet")
REJECTS = Table("rejects", REJECT_SCHEMA, ("source",), "*/*.parquet")
RUNS = Table("runs", RUN_SCHEMA, (), "*.parquet")
FETCHES = Table("fetches", FETCH_SCHEMA, ("source",), "*/*.parquet")
SIGNATURES = Table("signatures", SIGNATURE_SCHEMA, ("source",), "*/*.parquet")
INPUTS = Table("inputs", INPUT_SCHEMA, ("source",), "*/*.parquet")
TABLES = (DOCUMENTS, REJECTS, RUNS, FETCHES, SIGNATURES, INPUTS)
BY_NAME = MappingProxyType({table.name: table for table in TABLES})


def month_of(row: Mapping[str, Any]) -> str:
    """The partition month: the article's own date, else the day it was fetched."""
    when = row.get("published_at") or row["fetched_at"]
    return f"{when.year:04d}-{when.month:02d}"
