"""DuckDB's way into a warehouse on object storage: the httpfs extension, and the same credentials and
endpoint pyarrow uses, from the standard AWS variables (pyarrow reads them itself; DuckDB reads S3 only
through a secret). So `corpus sql`, `stats` and the views work on an S3 warehouse with nothing written by
hand:

    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN   credentials
    AWS_REGION (or AWS_DEFAULT_REGION)                             region (default us-east-1)
    AWS_ENDPOINT_URL_S3 (or AWS_ENDPOINT_URL)                      another S3 service: MinIO, Ceph, moto...

The secret is temporary (this connection's memory only, never stored on disk).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import duckdb
import pyarrow.fs as pafs

from flows.errors import ConfigError
from flows.warehouse import duckdb_extensions

DEFAULT_REGION = "us-east-1"


def endpoint() -> str | None:
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None


def s3_filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """pyarrow's filesystem for an s3:// URI and the path in it, with the endpoint of the environment
    (pyarrow reads the credentials and region itself)."""
    parts = urlsplit(uri)
    path = f"{parts.netloc}{parts.path}".rstrip("/")
    url = endpoint()
    if url is None:
        return pafs.S3FileSystem(region=_region()), path
    target = urlsplit(url)
    if not target.netloc:
        raise ConfigError(f"AWS_ENDPOINT_URL {url!r}: expected a URL like http://host:port")
    return (
        pafs.S3FileSystem(region=_region(), endpoint_override=target.netloc, scheme=target.scheme or "https"),
        path,
    )


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def open_remote(con: duckdb.DuckDBPyConnection, uri: str) -> None:
    """Load httpfs and, for s3:// warehouses, give the connection the environment's credentials."""
    duckdb_extensions.load(con, "httpfs")
    if not uri.startswith("s3://"):
        return
    con.execute("SET allow_persistent_secrets = false")  # only this secret: none from ~/.duckdb
    fields = {"REGION": _region()}
    for name, variable in (
        ("KEY_ID", "AWS_ACCESS_KEY_ID"),
        ("SECRET", "AWS_SECRET_ACCESS_KEY"),
        ("SESSION_TOKEN", "AWS_SESSION_TOKEN"),
    ):
        if os.environ.get(variable):
            fields[name] = os.environ[variable]
    url = endpoint()
    if url is not None:
        target = urlsplit(url)
        fields["ENDPOINT"] = target.netloc
        fields["URL_STYLE"] = "path"
        use_ssl = "false" if target.scheme == "http" else "true"
    else:
        use_ssl = "true"
    options = ", ".join(f"{key} {_quote(value)}" for key, value in fields.items())
    con.execute(f"CREATE OR REPLACE TEMPORARY SECRET corpus_s3 (TYPE s3, {options}, USE_SSL {use_ssl})")
    # httpfs also copies the AWS variables into plain settings, which current_setting() and
    # duckdb_settings() show to anyone (a secret's values are redacted): emptied, the secret alone holds
    # the credentials, and the settings cannot be set again once the analysts' connection is locked.
    for setting in ("s3_access_key_id", "s3_secret_access_key", "s3_session_token"):
        con.execute(f"SET {setting} = ''")
