"""The sources config: its schema, its defaults, and loading it with errors that name file, source and key.

Every default a user can change is declared here, next to the field it belongs to, and so are the limits
and tunables that are not config keys (the "Limits" section below): no other module declares one.

A source kind's config class is registered in SOURCE_CONFIGS (one line); the module that reads it is
registered in flows/sources/__init__.py KINDS (one line).
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from flows.errors import ConfigError

__all__ = ["Config", "ConfigError", "load_config", "parse_config"]

SOURCE_NAME_PATTERN = r"^[a-z0-9-]+$"
DEFAULT_USER_AGENT = "corpus-pipeline/0.1 (news corpus ingestion; polite crawler)"
DEFAULT_MAX_BYTES = 10_000_000  # pages (files, archive records, web responses) larger than this: too_large
DEFAULT_CONFIG = Path("seeds/sources.toml")  # the commands' --config, relative to the working directory
REPO_CONFIG = Path(__file__).resolve().parent.parent / DEFAULT_CONFIG  # this checkout's

# ---- Limits: tunables that are not config keys, each with why it is what it is

COMMIT_CHUNK_DOCUMENTS = 500  # documents committed at a time: memory stays at a few chunks per unit
SERVE_STOP_GRACE_SECONDS = 20.0  # `corpus serve`: wait this long for a clean stop ($CORPUS_SERVE_STOP_GRACE)
MAX_REDIRECTS = 5  # redirects followed by hand, each hop checked (safety, robots)
MAX_CONFIG_BYTES = 10_000_000  # a larger "config" is something else (a log, /dev/zero): refused unread
MAX_URL_CHARS = 8192  # a longer URL is bad_url (servers refuse far shorter ones: 8 KB is nginx's default)
MAX_RETRY_WAIT = 60.0  # a server asking for a longer pause is not waited for: the page is retried next run
RETRY_BACKOFF_BASE = 0.5  # seconds before the first retry; doubled per attempt (at most 30 s), with jitter
MAX_CRAWL_DELAY = 60.0  # a robots.txt Crawl-delay above this is capped
MAX_ROBOTS_BYTES = 500_000  # a larger robots.txt is read as empty (allow everything)
MAX_LISTING_BYTES = 50_000_000  # feeds and sitemaps (the sitemap protocol's own limit, uncompressed)
MAX_SITEMAP_DEPTH = 3  # sitemap indexes nested deeper are bad_sitemap rejects
MAX_SITEMAPS = 1000  # sitemaps (an index and its children, each once) read per source and run
MAX_LISTED_URLS = 1_000_000  # page URLs a source's sitemaps may list per run: the rest is a bad_sitemap row
RAW_ARCHIVE_ROTATE_BYTES = 100_000_000  # web sources' raw WARC files are rotated at this size


def default_config_path() -> Path:
    """$CORPUS_CONFIG, else seeds/sources.toml in the working directory, else this checkout's."""
    named = os.environ.get("CORPUS_CONFIG")
    if named:
        return Path(named)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else REPO_CONFIG


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_AGE_UNITS = MappingProxyType({"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"})


def parse_age(text: str) -> timedelta:
    """'90m', '24h', '7d', '2w' → a timedelta (ValueError otherwise)."""
    match = _AGE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like '30m', '24h', '7d' or '2w'")
    return timedelta(**{_AGE_UNITS[match.group(2)]: float(match.group(1))})


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


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
    favor_precision: StrictBool = True
    """trafilatura's precision mode: fewer stray lines (menus, bios) in the text, sometimes a shorter text."""
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0)
    """Pages larger than this are rejected as too_large without being parsed."""
    identical_pages: int = Field(1024, ge=0)
    """Pages each worker remembers by their bytes: the same bytes again under another URL (a mirror, tracking
    parameters) are not extracted a second time when the page names its own URL. 0 turns this off."""


class DedupConfig(StrictModel):
    """Near-duplicate detection: MinHash signatures of word shingles, LSH banding for candidates, and
    every candidate verified on the shingles themselves before two documents share a cluster."""

    near: StrictBool = True
    """Find near-duplicates (syndicated, edited, trimmed copies); false keeps exact dedup only."""
    threshold: float = Field(0.6, gt=0, le=1)
    """Jaccard similarity of the shingle sets at which two texts are one article."""
    containment: float = Field(0.9, gt=0, le=1)
    """Or: the share of the shorter text's shingles found in the longer one (a copy cut short)."""
    min_containment_shingles: int = Field(50, ge=1)
    """The shorter text needs this many shingles for containment to count (short texts match by chance)."""
    spread: float = Field(0.6, gt=0, le=1)
    """Or (a copy cut short and edited, or kept in part and padded with another template's leftovers):
    this share of the shorter text lies in paragraphs mostly (half their shingles or more) found in the
    other, and those are at least `spread_paragraphs` paragraphs: a brief quoting one paragraph stays
    apart."""
    spread_paragraphs: int = Field(3, ge=1)
    """How many paragraphs the `spread` rule needs (a quoted paragraph is one: it stays apart)."""
    shingle_words: int = Field(5, ge=1, le=20)
    """Words per shingle, the unit texts are compared in."""
    frequent_paragraph: int = Field(5, ge=2)
    """A paragraph found in this many different texts is page furniture, left out when comparing texts."""
    bands: int = Field(32, ge=1)
    """LSH bands; rows per band = num_perm / bands. More bands find lower similarities (more candidates)."""
    num_perm: int = Field(128, ge=8)
    """MinHash permutations per signature."""
    lead_words: int = Field(150, ge=10)
    """Also a signature of the text's first this many words, so that a copy cut short and edited (whose
    whole-text similarity can be too low for the bands above to find it) is found by its lead."""
    lead_bands: int = Field(16, ge=0)
    """LSH bands of 3 rows over the lead's own MinHash (0: no lead signature)."""
    index_memory: int = Field(64, ge=1)
    """MB of the dedup index (on disk beside the catalog) a commit keeps in memory: its page cache. The
    index grows with the warehouse; a run's memory does not."""

    @property
    def all_bands(self) -> int:
        """Band hashes per signature: the whole text's, then the lead's."""
        return self.bands + self.lead_bands

    @model_validator(mode="after")
    def _bands_divide(self) -> DedupConfig:
        if self.num_perm % self.bands:
            raise ValueError(f"bands ({self.bands}) must divide num_perm ({self.num_perm})")
        return self


_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(%|B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", re.IGNORECASE)


def check_memory_limit(value: str) -> str:
    if not _MEMORY.match(value):
        raise ValueError(f"{value!r} is not a size like '4GB', '500MB' or a share of the memory like '50%'")
    return value.strip()


class QueryConfig(StrictModel):
    """`[query]`: the limits of analysts' queries (`corpus sql` and its shell, `corpus stats`, connect())."""

    timeout: float = Field(600.0, gt=0)
    """Seconds one statement of `corpus sql` or `corpus stats` may run; a longer one is stopped
    (--timeout)."""
    memory_limit: str = "50%"
    """Memory DuckDB may use for a query: a size ('4GB') or a share of this machine's memory ('50%'); past
    it, DuckDB spills to a private temporary folder or stops the statement (DuckDB's own default: 80 %)."""

    @field_validator("memory_limit")
    @classmethod
    def _memory(cls, value: str) -> str:
        return check_memory_limit(value)


class RunnerConfig(StrictModel):
    kind: Literal["threads", "dask", "ray"] = "threads"
    """Prefect task runner: threads (this machine) or dask (a Dask cluster: a LocalCluster started for
    the run, or the scheduler at `address`). ray is refused with the reason."""
    address: str | None = None
    """Dask scheduler address (tcp://host:8786); none: a LocalCluster on this machine."""
    workers: int = Field(0, ge=0)
    """LocalCluster worker processes (one thread each); 0 means one per CPU core."""
    batch_size: int = Field(200, gt=0)
    """Files per task for files sources, pages per task for web sources (a WARC file is one task on this
    machine; on a cluster a large one is cut into byte ranges, a task each)."""


def check_cron(value: str) -> str:
    """A five-field cron expression as Prefect's scheduler accepts it (its own parser, loaded only when a
    config has a cron schedule: importing it costs ~0.8 s)."""
    from prefect._vendor.croniter import croniter  # type: ignore[attr-defined]

    if len(value.split()) != 5 or not croniter.is_valid(value):  # type: ignore[no-untyped-call]
        raise ValueError(
            f"{value!r} is not a cron expression like '*/30 * * * *' (minute hour day month weekday)"
        )
    return value


def check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone like 'Europe/Paris' or 'UTC'") from None
    return value


class ScheduleFields(StrictModel):
    """When `corpus serve` runs a source: a cron expression or an interval, not both."""

    schedule: str | None = None
    """Cron expression, e.g. "*/30 * * * *" (every 30 minutes), "0 6 * * 1-5" (6:00 on weekdays)."""
    interval: str | None = None
    """Or a fixed interval: '90s', '15m', '6h', '1d'."""
    timezone: str | None = None
    """IANA time zone the cron expression is read in (default UTC)."""

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return check_cron(value.strip()) if value is not None else None

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None and parse_age(value) < timedelta(seconds=1):
            raise ValueError(f"{value!r} is shorter than one second")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return check_timezone(value) if value is not None else None

    @model_validator(mode="after")
    def _one_schedule(self) -> ScheduleFields:
        if self.schedule is not None and self.interval is not None:
            raise ValueError("give either 'schedule' (cron) or 'interval', not both")
        return self

    @property
    def scheduled(self) -> bool:
        return self.schedule is not None or self.interval is not None


class Defaults(ScheduleFields):
    """`[defaults]`: the schedule of every source that sets none of its own."""


class FilterFields(StrictModel):
    """A source's quality filters (flows/filters.py applies them, in the order of its FILTERS list); a new
    filter's setting is a field here."""

    articles_only: StrictBool = True
    """Reject pages that are not articles (tag, category, author, search and index pages) as not_article."""
    min_words: int = Field(50, ge=0)
    """Texts shorter than this are rejected as too_short."""
    languages: list[str] = []
    """ISO 639-1 codes to keep (e.g. ["en", "fr"]); other languages are rejected as language. Empty: all."""


class SourceBase(ScheduleFields, FilterFields):
    """What every source has, whatever its kind: a name, a schedule, filters, a priority."""

    kind: str
    """What the source is: files, warc, feed, sitemap or urls (SOURCE_CONFIGS)."""
    name: Annotated[str, Field(pattern=SOURCE_NAME_PATTERN, max_length=64)]
    """Unique in the config: lower-case letters, digits and dashes; the partition name in the warehouse."""
    enabled: StrictBool = True
    """false: left out of `corpus ingest` and `corpus serve` unless named with --source."""
    priority: int = 0
    """A cluster's representative (its row in `articles`) comes from the source with the highest priority;
    among equals, the earliest published, then the first seen."""

    def filters(self) -> FilterFields:
        """The source's filter settings alone."""
        return FilterFields(**{name: getattr(self, name) for name in FilterFields.model_fields})


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


class WebSource(SourceBase):
    """Options common to the sources fetched over HTTP (feed, sitemap, urls)."""

    include: list[str] = []
    """Regexes: when given, only URLs matching one of them are fetched."""
    exclude: list[str] = []
    """Regexes: URLs matching one of them are skipped."""
    max_items: int | None = Field(None, gt=0)
    """At most this many pages per run (the newest first when the listing has dates)."""
    since: str | None = None
    """Skip entries older than this by their feed/sitemap date ('30m', '24h', '7d', '2w')."""
    allow_private: StrictBool = False
    """Allow hosts that resolve to private, loopback or link-local addresses (refused by default)."""
    user_agent: str = DEFAULT_USER_AGENT
    """Sent with every request, and matched against robots.txt rules."""
    delay: float = Field(1.0, ge=0)
    """Seconds between two requests to one host (robots.txt Crawl-delay raises it, up to 60 s)."""
    timeout: float = Field(20.0, gt=0)
    """Seconds one request may take, body included."""
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0)
    """Responses larger than this are rejected as too_large (checked while streaming)."""
    retries: int = Field(3, ge=0, le=10)
    """Retries after a connection error, a timeout, 429 or 5xx, with exponential backoff and jitter."""
    concurrency: int = Field(8, gt=0)
    """Requests in flight at once for this source, all hosts together."""
    host_concurrency: int = Field(1, gt=0)
    """Requests in flight at once to one host."""

    @field_validator("include", "exclude")
    @classmethod
    def _regexes(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regex {pattern!r}: {exc}") from None
        return patterns

    @field_validator("since")
    @classmethod
    def _age(cls, value: str | None) -> str | None:
        if value is not None:
            parse_age(value)
        return value

    @property
    def since_delta(self) -> timedelta | None:
        return parse_age(self.since) if self.since else None


def _http_url(value: str) -> str:
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError(f"{value!r}: must start with http:// or https://")
    return value.strip()


class ListingSource(WebSource):
    url: str | list[str]
    """Where the listing of pages is: a feed or a sitemap URL, or several of them (a site's news sitemap and
    its main one: read together, each page once; one that fails is a row of its own while the others work)."""

    @field_validator("url")
    @classmethod
    def _listing_url(cls, value: str | list[str]) -> str | list[str]:
        if isinstance(value, list):
            if not value:
                raise ValueError("give at least one URL")
            return [_http_url(v) for v in value]
        return _http_url(value)

    @property
    def listings(self) -> list[str]:
        """The listing URLs, one or several."""
        return [self.url] if isinstance(self.url, str) else list(self.url)


class FeedSource(ListingSource):
    """RSS 0.9x/1.0/2.0, Atom or JSON Feed. Links as the standards say: RSS `link`, else a permalink
    `guid`; Atom the `rel="alternate"` (or rel-less) HTML link, never an enclosure; JSON Feed `url`;
    relative ones resolved against `xml:base` or the feed's URL. A listing is read as what it is: a
    sitemap named here still counts."""

    kind: Literal["feed"]


class SitemapSource(ListingSource):
    """A sitemap index (followed, each sitemap once), a urlset (news, image, video: only `<loc>` of
    `<url>` is a page) or a plain-text sitemap; gzipped or not (told by the bytes). A cut-off or damaged
    one gives every entry completed before the damage, and a bad_sitemap row says where."""

    kind: Literal["sitemap"]


class UrlsSource(WebSource):
    kind: Literal["urls"]
    urls: list[str] = []
    """The pages to fetch."""
    file: str | None = None
    """Or a text file with one URL per line (# starts a comment), relative to the config file."""

    @field_validator("urls")
    @classmethod
    def _http_urls(cls, urls: list[str]) -> list[str]:
        return [_http_url(u) for u in urls]

    @model_validator(mode="after")
    def _one_list(self) -> UrlsSource:
        if bool(self.urls) == bool(self.file):
            raise ValueError("give either 'urls' or 'file'")
        return self


# Every kind of source: its `kind` value → its config class. A new kind is one line here (and one in
# flows/sources/__init__.py KINDS for the module that reads it).
SOURCE_CONFIGS: Mapping[str, type[SourceBase]] = MappingProxyType(
    {
        "files": FilesSource,
        "warc": WarcSource,
        "feed": FeedSource,
        "sitemap": SitemapSource,
        "urls": UrlsSource,
    }
)


class Config(StrictModel):
    warehouse: WarehouseConfig = WarehouseConfig()
    """Where the Parquet tables and the views are."""
    defaults: Defaults = Defaults()
    """The schedule of the sources that set none."""
    extract: ExtractConfig = ExtractConfig()
    """Extraction: time limit, processes, size limit."""
    runner: RunnerConfig = RunnerConfig()
    """Where the tasks run: threads here, or a Dask cluster."""
    dedup: DedupConfig = DedupConfig()
    """Exact and near-duplicate detection."""
    query: QueryConfig = QueryConfig()
    """Limits of analysts' queries: statement time, memory."""
    sources: list[SourceBase] = Field(default_factory=list)
    """Each validated by its kind's class (SOURCE_CONFIGS) in parse_config."""
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

    def schedule_of(self, source: SourceBase) -> ScheduleFields | None:
        """The source's own schedule, else the [defaults] one; None when neither sets one."""
        chosen = source if source.scheduled else self.defaults if self.defaults.scheduled else None
        if chosen is None:
            return None
        return ScheduleFields(
            schedule=chosen.schedule,
            interval=chosen.interval,
            timezone=source.timezone or self.defaults.timezone,
        )

    def resolve(self, relative: str) -> str:
        """A config path made absolute against the config's folder; URIs (s3://...) are kept as they are."""
        if "://" in relative:
            return relative
        return str((self.base_dir / os.path.expanduser(relative)).resolve())

    def warehouse_location(self, override: str | None = None) -> tuple[str, str | None]:
        """(root, catalog) of the warehouse: the [warehouse] path and catalog resolved against the config's
        folder, or the folder `override` (with its own catalog); catalog None: the root's default."""
        if override:
            return override, None
        catalog = self.resolve(self.warehouse.catalog) if self.warehouse.catalog else None
        return self.resolve(self.warehouse.path), catalog

    def select(self, names: list[str] | None) -> list[SourceBase]:
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


def reading_config(path: str | Path | None, warehouse: str | None) -> Config:
    """The config of a command that only reads a warehouse (sql, search, stats, report, connect()). Given a
    warehouse folder, it needs no config file: when none was named (`path` None or the default, and no
    CORPUS_CONFIG) and there is none, the defaults serve ([query] limits); a config named or present is
    read, and must be valid."""
    named = path is not None and Path(path) != DEFAULT_CONFIG
    chosen = Path(path) if path is not None else default_config_path()
    if warehouse is not None and not named and "CORPUS_CONFIG" not in os.environ and not chosen.exists():
        return Config()
    return load_config(chosen)


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config; raise ConfigError with a one-line message on any problem (a file
    that is not a regular file, such as /dev/zero or a FIFO, or one larger than MAX_CONFIG_BYTES, is refused
    before it is read)."""
    path = Path(path)
    try:
        if "\0" in str(path):
            raise ConfigError(f"{str(path)!r}: a NUL character in the config's path")
        if not path.is_file():
            if not path.exists():
                raise ConfigError(f"{path}: config file not found")
            raise ConfigError(f"{path}: not a regular file, so not a config")
        with path.open("rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes, so not a config")
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from None
    return parse_config(text, path)


def parse_config(text: str, path: Path) -> Config:
    """Validate a config's text as if it were the file at `path` (relative paths resolve against its
    folder); raise ConfigError naming file, source and key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:  # tables or arrays nested thousands deep
        raise ConfigError(f"{path}: invalid TOML: nested too deeply") from None
    nul = _first_nul(raw)
    if nul is not None:
        raise ConfigError(f"{path}: key {nul!r}: a NUL character in its value")
    if "base_dir" in raw:
        raise ConfigError(f"{path}: key 'base_dir': unknown key")
    sources = [_source(entry, index, raw, path) for index, entry in enumerate(_source_tables(raw, path))]
    try:
        return Config.model_validate({**raw, "sources": sources, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_describe(exc.errors(), raw)}") from None


def _first_nul(value: Any, where: str = "") -> str | None:
    """The dotted key of the first string holding a NUL character (no path, URL or name may hold one)."""
    if isinstance(value, str):
        return where if "\0" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = _first_nul(item, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def _source_tables(raw: dict[str, Any], path: Path) -> list[Any]:
    sources = raw.get("sources", [])
    if not isinstance(sources, list):
        raise ConfigError(f"{path}: key 'sources': must be a list of tables ([[sources]])")
    return sources


def _source(entry: Any, index: int, raw: dict[str, Any], path: Path) -> SourceBase:
    """One [[sources]] table validated by its kind's class."""
    name = entry.get("name") if isinstance(entry, dict) else None
    where = f"source {name!r}" if name else f"sources[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{path}: {where}: must be a table")
    kinds = ", ".join(SOURCE_CONFIGS)
    if "kind" not in entry:
        raise ConfigError(f"{path}: {where}: missing key 'kind' ({kinds})")
    model = SOURCE_CONFIGS.get(entry["kind"]) if isinstance(entry["kind"], str) else None
    if model is None:
        raise ConfigError(
            f"{path}: {where}: key 'kind': unknown kind {entry['kind']!r} (expected one of: {kinds})"
        )
    try:
        return model.model_validate(entry)
    except ValidationError as exc:
        errors = [{**e, "loc": ("sources", index, *e["loc"])} for e in exc.errors()]
        raise ConfigError(f"{path}: {_describe(errors, raw)}") from None


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The models a field's type holds (a list's items, a union's members), with their subclasses."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        found, pending = [], [annotation]
        while pending:
            model = pending.pop()
            found.append(model)
            pending.extend(model.__subclasses__())
        return found
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the config accepts where an error was found (for "did you mean")."""
    models: list[type[BaseModel]] = [Config]
    for part in loc:
        if isinstance(part, int):
            continue
        models = [
            m
            for model in models
            if part in model.model_fields
            for m in _models_in(model.model_fields[part].annotation)
        ]
    return sorted({key for model in models for key in model.model_fields if key != "base_dir"})


def _describe(errors: list[Any], raw: dict[str, Any]) -> str:
    """The most telling validation error as "source 'x': key 'y': message". An unknown key comes first:
    a misspelt key also makes the real one look missing, and the misspelling is the thing to fix."""
    errors = sorted(errors, key=lambda e: e["type"] != "extra_forbidden")
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
    keys = [str(part) for part in loc]
    if keys:
        where.append(f"key {'.'.join(keys)!r}")
    message = error["msg"]
    if error["type"] == "extra_forbidden":
        message = "unknown key"
        missing = [
            str(e["loc"][-1]) for e in errors if e["type"] == "missing" and e["loc"][:-1] == error["loc"][:-1]
        ]
        known = missing + [k for k in _keys_at(error["loc"][:-1]) if k not in missing]
        close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
    elif error["type"] == "missing":
        message = "missing required key"
    elif error["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    return ": ".join([*where, message])
