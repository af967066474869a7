"""The sources config: its schema, its defaults, and loading it with errors that name file, source and key.

Every default a user can change is declared here, next to the field it belongs to.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

SOURCE_NAME_PATTERN = r"^[a-z0-9-]+$"


class ConfigError(Exception):
    """A config that cannot be used; the message is one line naming file, source and key."""


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WarehouseConfig(StrictModel):
    path: str = "warehouse"
    """Folder (or fsspec/pyarrow URI such as s3://bucket/prefix) holding the Parquet tables.
    A relative path is relative to the config file."""
    catalog: str | None = None
    """Local DuckDB file with the views. Default: <path>/corpus.duckdb (required when path is remote)."""


class ExtractConfig(StrictModel):
    timeout: float = Field(20.0, gt=0)
    """Seconds one page may take to extract; a slower page is rejected as extract_timeout."""
    processes: int = Field(0, ge=0)
    """Extraction worker processes; 0 means one per CPU core."""
    favor_precision: bool = True
    """trafilatura's precision mode: fewer stray lines (menus, bios) in the text, sometimes a shorter text."""
    max_bytes: int = Field(10_000_000, gt=0)
    """Pages larger than this are rejected as too_large without being parsed."""


class RunnerConfig(StrictModel):
    kind: Literal["threads", "dask", "ray"] = "threads"
    """Prefect task runner: threads (this machine), or an existing Dask / Ray cluster."""
    address: str | None = None
    """Scheduler address for dask (tcp://host:8786) or ray (ray://host:10001)."""
    batch_size: int = Field(200, gt=0)
    """Files per task for files sources (a WARC file is one task)."""


class SourceBase(StrictModel):
    name: Annotated[str, Field(pattern=SOURCE_NAME_PATTERN, max_length=64)]
    enabled: bool = True


class FilesSource(SourceBase):
    kind: Literal["files"]
    path: str
    """Glob relative to the config file (** allowed); .html, .htm and .html.gz files are read."""
    url_prefix: str | None = None
    """URL of the glob's base folder: a file's URL is url_prefix + its path below that folder.
    Without it a file's URL is its file:// URI (and the page's own canonical URL is trusted)."""

    @field_validator("url_prefix")
    @classmethod
    def _http_prefix(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value


class WarcSource(SourceBase):
    kind: Literal["warc"]
    path: str
    """Glob of WARC/ARC files (plain or gzip), relative to the config file."""


SourceConfig = Annotated[FilesSource | WarcSource, Field(discriminator="kind")]


class Config(StrictModel):
    warehouse: WarehouseConfig = WarehouseConfig()
    extract: ExtractConfig = ExtractConfig()
    runner: RunnerConfig = RunnerConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    base_dir: Path = Field(default=Path("."), exclude=True)
    """Folder of the config file: relative paths are resolved against it."""

    @field_validator("sources")
    @classmethod
    def _unique_names(cls, sources: list[Any]) -> list[Any]:
        seen: set[str] = set()
        for source in sources:
            if source.name in seen:
                raise ValueError(f"duplicate source name {source.name!r}")
            seen.add(source.name)
        return sources

    def resolve(self, relative: str) -> str:
        """A config path made absolute against the config's folder; URIs (s3://...) are kept as they are."""
        if "://" in relative:
            return relative
        return str((self.base_dir / os.path.expanduser(relative)).resolve())

    def select(self, names: list[str] | None) -> list[FilesSource | WarcSource]:
        """The sources to run: the named ones (unknown names are an error), else every enabled one."""
        if not names:
            return [s for s in self.sources if s.enabled]
        by_name = {s.name: s for s in self.sources}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(
                f"unknown source {unknown[0]!r}; the config has: {', '.join(by_name) or 'none'}"
            )
        return [by_name[n] for n in names]


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config; raise ConfigError with a one-line message on any problem."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if "base_dir" in raw:
        raise ConfigError(f"{path}: key 'base_dir': unknown key")
    try:
        return Config.model_validate({**raw, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc, raw)}") from None


def _describe(exc: ValidationError, raw: dict[str, Any]) -> str:
    """The most telling validation error as "source 'x': key 'y': message". An unknown key comes first:
    a misspelt key also makes the real one look missing, and the misspelling is the thing to fix."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    error = errors[0]
    loc = list(error["loc"])
    where = []
    if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int):
        index = loc[1]
        sources = raw.get("sources") or []
        name = (
            sources[index].get("name") if index < len(sources) and isinstance(sources[index], dict) else None
        )
        where.append(f"source {name!r}" if name else f"sources[{index}]")
        loc = loc[2:]
        if loc and loc[0] in ("files", "warc"):  # the discriminator's branch name, not a key
            loc = loc[1:]
    keys = [str(part) for part in loc]
    if keys:
        where.append(f"key {'.'.join(keys)!r}")
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
        missing = [
            str(e["loc"][-1]) for e in errors if e["type"] == "missing" and e["loc"][:-1] == error["loc"][:-1]
        ]
        close = difflib.get_close_matches(str(error["loc"][-1]), missing, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    elif error["type"] == "union_tag_invalid":
        message = f"unknown kind {error['input'].get('kind')!r} (expected one of: files, warc)"
        where[-1:] = [where[-1], "key 'kind'"] if where else ["key 'kind'"]
    elif error["type"] == "union_tag_not_found":
        message = "missing key 'kind' (files or warc)"
    elif error["type"] == "missing":
        message = "missing required key"
    return ": ".join([*where, message])
