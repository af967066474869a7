"""One error hierarchy. Every error the product raises on purpose is a `CorpusError` whose message is one
line naming what went wrong and where (file, source, key, URL); its `exit_code` is what the CLI exits with:
2 for a bad config or bad arguments, 1 for work that failed. The CLI prints `error: <message>` for any of
them, with no traceback unless asked (CORPUS_DEBUG=1); anything else that escapes is a bug.
"""

from __future__ import annotations


class CorpusError(Exception):
    """Base of every expected failure; the message is one line (by construction: a message that quotes
    a library's multi-line text has its white space collapsed)."""

    exit_code = 1

    def __str__(self) -> str:
        return " ".join(super().__str__().split())


class ConfigError(CorpusError):
    """A config (or a command-line argument standing in for one) that cannot be used."""

    exit_code = 2


class SourceError(CorpusError):
    """A source that cannot be read (nothing matches its glob, a corrupt archive, a listing that is not a
    feed). `reason` is a rejects-table reason when the cause has one (blocked_address, dns_error...)."""

    def __init__(self, message: str, reason: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.path = path  # the input file that could not be read to its end, when it is one


class Blocked(CorpusError):
    """A URL the fetcher may not request; `reason` is for the rejects table (bad_url, dns_error,
    blocked_address)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RunFailed(CorpusError):
    """A run in which a source failed: what the Prefect flow ends with (its state is Failed, with this
    message). `summary` is the run's RunSummary, the other sources' work included (it is committed)."""

    def __init__(self, message: str, summary: object) -> None:
        super().__init__(message)
        self.summary = summary


class QueryError(CorpusError):
    """A statement that cannot run: not read-only, or DuckDB refused it."""


class QueryInterrupted(QueryError):
    """A statement stopped by Ctrl-C (SIGINT); the shell goes on, `corpus sql` exits 130 as shells expect."""

    exit_code = 130


class SearchUnavailable(CorpusError):
    """The full-text index cannot be used (no FTS5 in this Python's SQLite, no index yet)."""


class CompactError(CorpusError):
    """Compaction cannot run or went wrong; no file was replaced."""


class ServerError(CorpusError):
    """A local Prefect server that did not start or stopped."""


class ExtensionUnavailable(CorpusError):
    """A DuckDB extension that cannot be loaded: which one and what to install."""


class ReadOnlyWarehouse(CorpusError):
    """A command that must write to the warehouse, which cannot be written (sql, stats, search only read)."""
