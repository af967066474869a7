"""Config loading: good configs load with defaults; a bad one fails with one line naming file, source, key."""

from __future__ import annotations

from pathlib import Path

import pytest
from command import corpus

from flows.config import ConfigError, load_config

GOOD = """
[warehouse]
path = "wh"
[[sources]]
name = "local-news"
kind = "files"
path = "site/**/*.html"
url_prefix = "https://"
[[sources]]
name = "crawl"
kind = "warc"
path = "crawls/*.warc.gz"
"""


@pytest.mark.unit
def test_good_config_resolves_paths_against_its_folder(make_config) -> None:
    path = make_config(GOOD)
    config = load_config(path)
    assert [s.name for s in config.sources] == ["local-news", "crawl"]
    assert config.resolve(config.warehouse.path) == str(path.parent / "wh")
    assert config.extract.timeout == 20.0 and config.extract.favor_precision
    assert [s.name for s in config.select(["crawl"])] == ["crawl"]
    with pytest.raises(ConfigError, match="unknown source 'nope'"):
        config.select(["nope"])


@pytest.mark.unit
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            GOOD.replace('path = "site', 'pth = "site'),
            "source 'local-news': key 'pth': unknown key (did you mean 'path'?)",
        ),
        (GOOD.replace('kind = "warc"', 'kind = "rss"'), "source 'crawl': key 'kind': unknown kind 'rss'"),
        (GOOD.replace('name = "crawl"', 'name = "local-news"'), "duplicate source name 'local-news'"),
        (
            GOOD.replace('name = "crawl"', 'name = "Crawl!"'),
            "source 'Crawl!': key 'name': String should match",
        ),
        (GOOD.replace('path = "crawls/*.warc.gz"', ""), "source 'crawl': key 'path': missing required key"),
        (GOOD.replace('url_prefix = "https://"', 'url_prefix = "ftp://x"'), "key 'url_prefix'"),
        (GOOD + "\n[extract]\ntimeout = -1\n", "key 'extract.timeout': Input should be greater than 0"),
        (GOOD + "\n[extract]\ncolour = 1\n", "key 'extract.colour': unknown key"),
        (GOOD.replace("[warehouse]", "[warehouse"), "invalid TOML"),
    ],
)
def test_bad_config_names_file_source_and_key(make_config, body: str, expected: str) -> None:
    path = make_config(body)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


@pytest.mark.unit
def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "absent.toml")


@pytest.mark.flow
def test_cli_rejects_bad_config_with_one_line(make_config) -> None:
    path = make_config(GOOD.replace('kind = "warc"', 'kind = "rss"'))
    result = corpus("ingest", "--config", str(path))
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "source 'crawl'" in lines[0] and "kind" in lines[0] and str(path) in lines[0]
    assert "Traceback" not in result.stderr
