"""Changing a config file by program (`corpus sources add`) the way a person would: the new source goes at
the end of the [[sources]], the file's comments, order and formatting stay as they were, and the result is
validated before it replaces the file (written beside it, then renamed: never half-written)."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomlkit

from flows.config import Config, parse_config
from flows.errors import ConfigError


def source_name_for(url: str, taken: set[str]) -> str:
    """'https://www.example.co.uk/news' → 'example-co-uk' (then -2, -3... when taken)."""
    parts = urlsplit(url)
    host = (parts.hostname or "site").lower().removeprefix("www.")
    if parts.port:
        host += f"-{parts.port}"
    base = re.sub(r"[^a-z0-9]+", "-", host).strip("-")[:56] or "site"
    name, number = base, 1
    while name in taken:
        number += 1
        name = f"{base}-{number}"
    return name


def append_source(config_path: Path, source: dict[str, Any], comment: str | None = None) -> Config:
    """Append `source` as a new [[sources]] table; returns the validated new config."""
    try:
        text = config_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: config file not found") from None
    document = tomlkit.parse(text)
    wanted = _listings(source.get("url"))
    for existing in document.get("sources") or []:
        if existing.get("kind") not in _LISTING_KINDS or source.get("kind") not in _LISTING_KINDS:
            continue
        shared = wanted & _listings(existing.get("url"))
        if shared:
            raise ConfigError(
                f"{config_path}: source {existing.get('name')!r} already reads {sorted(shared)[0]} "
                "(nothing added)"
            )
    table = tomlkit.table()
    if comment:
        table.add(tomlkit.comment(comment))
    for key, value in source.items():
        if value is not None:
            table.add(key, value)
    table.add(tomlkit.nl())  # a blank line before whatever follows, as a person would leave
    sources = document.get("sources")
    if sources is None:
        sources = tomlkit.aot()
        document.append("sources", sources)
    sources.append(table)
    new_text = tomlkit.dumps(document)
    if not new_text.endswith("\n"):
        new_text += "\n"
    config = parse_config(new_text, config_path)  # raises ConfigError naming the key: nothing written
    _replace(config_path, new_text)
    return config


def _replace(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


_LISTING_KINDS = ("feed", "sitemap")  # either reads both (listing.read_listing)


def _listings(url: object) -> set[str]:
    """The listing URLs of a source table's `url` (one, or a list)."""
    if isinstance(url, str):
        return {url}
    if isinstance(url, list):
        return {str(u) for u in url}
    return set()
