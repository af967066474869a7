"""The stored tables: the one Arrow schema of each, and how it is partitioned. Stored files carry
SCHEMA_VERSION in their metadata; views read files written with fewer columns too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
        ("title", pa.string()),  # the headline (extract/declared.py)
        ("page_title", pa.string()),  # the page's <title>
        ("authors", pa.list_(pa.string())),
        ("published_utc", UTC_TIMESTAMP),  # publication as the page states it (a day only: its midnight UTC)
        ("published_date", pa.date32()),  # the day as the page states it, in its own time zone
        ("published_offset", pa.int16()),  # minutes east of UTC the page stated with the time
        ("published_precision", pa.string()),  # day, minute, second
        ("modified_utc", UTC_TIMESTAMP),
        ("modified_offset", pa.int16()),
        ("modified_precision", pa.string()),
        ("section", pa.string()),
        ("image", pa.string()),
        ("language", pa.string()),  # ISO 639-1: declared by the page when its text agrees, else detected
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
        ("seconds", pa.float64()),  # the requests' time (redirects included, pacing waits not); null before
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
    # Columns that files written by an older version hold and the schema no longer has (read, never written)
    retired: Mapping[str, pa.DataType] = field(default_factory=lambda: MappingProxyType({}))
    # Current columns that rows of older files lack, as SQL over their retired columns (used where the table
    # is read, by the base views, and where it is rewritten, by compaction: one definition of the upgrade)
    upgrades: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def readable_schema(self) -> pa.Schema:
        """The columns a file of this table may hold: the schema's and the retired ones."""
        return pa.schema([*self.schema, *(pa.field(n, t) for n, t in self.retired.items())])

    def upgraded_select(self, relation: str) -> str:
        """SELECT over `relation` (which has every column of `readable_schema`) giving the schema's columns
        (and the partitions, if it has them), older rows upgraded."""
        star = "*"
        if self.retired:
            star += f" EXCLUDE ({', '.join(self.retired)})"
        if self.upgrades:
            star += (
                " REPLACE ("
                + ", ".join(f"coalesce({c}, {sql}) AS {c}" for c, sql in self.upgrades.items())
                + ")"
            )
        return f"SELECT {star} FROM {relation}"


# Schema version 2 stored `author` (trafilatura's authors joined by "; ") and `published_at` (a DATE).
DOCUMENTS = Table(
    "documents",
    DOCUMENT_SCHEMA,
    ("source", "month"),
    "*/*/*.parquet",
    retired=MappingProxyType({"author": pa.string(), "published_at": pa.date32()}),
    upgrades=MappingProxyType(
        {
            "authors": "coalesce(string_split(author, '; '), CAST([] AS VARCHAR[]))",
            "published_utc": "timezone('UTC', CAST(published_at AS TIMESTAMP))",
            "published_date": "published_at",
            "published_precision": "CASE WHEN published_at IS NOT NULL THEN 'day' END",
        }
    ),
)
REJECTS = Table("rejects", REJECT_SCHEMA, ("source",), "*/*.parquet")
RUNS = Table("runs", RUN_SCHEMA, (), "*.parquet")
FETCHES = Table("fetches", FETCH_SCHEMA, ("source",), "*/*.parquet")
SIGNATURES = Table("signatures", SIGNATURE_SCHEMA, ("source",), "*/*.parquet")
INPUTS = Table("inputs", INPUT_SCHEMA, ("source",), "*/*.parquet")
TABLES = (DOCUMENTS, REJECTS, RUNS, FETCHES, SIGNATURES, INPUTS)
BY_NAME = MappingProxyType({table.name: table for table in TABLES})


# The columns of a stored document that come from reading its page rather than from its text and place:
# what `corpus reextract` writes anew into documents already stored (warehouse/compact.py `restate`)
RESTATED_COLUMNS = (
    "title",
    "page_title",
    "authors",
    "published_utc",
    "published_date",
    "published_offset",
    "published_precision",
    "modified_utc",
    "modified_offset",
    "modified_precision",
    "section",
    "image",
    "language",
    "sitename",
    "description",
    "tags",
    "page_type",
    "schema_version",
)


def month_of(row: Mapping[str, Any]) -> str:
    """The partition month: the article's own day, else the day it was fetched."""
    when = row.get("published_date") or row["fetched_at"]
    return f"{when.year:04d}-{when.month:02d}"
