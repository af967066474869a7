"""The records that flow between the stages: a `Page` is what a source yields (raw HTML and where it came
from); extraction turns it into an `Extracted`: a document row (a dict with the columns of
schemas.DOCUMENT_SCHEMA) or a reject row (schemas.REJECT_SCHEMA).

Kept free of heavy imports: extraction workers load this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Stored files carry it in their metadata; views read files with fewer columns too.
# 2: documents gained cluster_id, similarity, page_type; the signatures table.
SCHEMA_VERSION = 2


@dataclass(slots=True)
class Page:
    """Raw HTML as a source yields it, before extraction."""

    url: str
    html: bytes
    fetched_at: datetime
    origin: str
    charset: str | None = None  # declared by the HTTP Content-Type header, when there was one


@dataclass(slots=True)
class Extracted:
    """The outcome of extracting one page: exactly one of `document` and `reject` is set."""

    document: dict | None = None
    reject: dict | None = None
