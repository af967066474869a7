"""What an extraction worker needs of the config: a module of its own, so that the process that runs the
pool (and the CLI, which starts the pool before anything else) never imports trafilatura: only the workers
extract."""

from __future__ import annotations

from dataclasses import dataclass

from flows.config import DedupConfig, ExtractConfig

_DEFAULTS = ExtractConfig()


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """What an extraction worker needs of the config (defaults: the config's own)."""

    favor_precision: bool = _DEFAULTS.favor_precision
    max_bytes: int = _DEFAULTS.max_bytes
    signature: DedupConfig | None = None  # compute near-duplicate band hashes with these settings
    identical_pages: int = _DEFAULTS.identical_pages  # pages each worker remembers by their bytes; 0: off

    @classmethod
    def of(cls, config: ExtractConfig, dedup: DedupConfig | None = None) -> ExtractOptions:
        return cls(config.favor_precision, config.max_bytes, dedup, config.identical_pages)
