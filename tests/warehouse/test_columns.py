"""One definition per column, checked: the places a column is spelled must agree, so that adding one in one
place only fails here rather than in an analyst's query.

- stored: the Arrow schema of each table (warehouse/tables.py), the record type the pipeline fills
  (records.py DocumentRow, RejectRow), and the row extraction really produces (extract/page.py);
- views: the columns each sql/*.sql header documents (name and type: the analyst's reference, also the
  catalog's column comments and docs/views.md) and the columns DuckDB builds for the view, on an empty
  warehouse and on a real one; every stored documents column reaches the documents view.
"""

from __future__ import annotations

import datetime
import tempfile
import typing
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from conftest import Sample
from sites import make_article, news_page

from flows.extract.options import ExtractOptions
from flows.extract.page import extract_page
from flows.records import DocumentRow, Page, RejectRow
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import DOCUMENT_SCHEMA, DOCUMENTS, REJECT_SCHEMA
from flows.warehouse.views import Column, build_views, documented_columns

# Stored columns the documents view shows under another name (sql/documents.sql: the instant in UTC is the
# view's TIMESTAMPTZ `published_at`, a name files of schema version 2 used for a DATE)
RENAMED_IN_VIEW = {"published_utc": "published_at", "modified_utc": "modified_at"}

# Keys of DocumentRow that are never stored: they travel from the extraction worker to the commit step.
TRANSIENT = frozenset({"bands", "paragraphs", "published_meta"})

_PYTHON_TO_ARROW = {
    str: (pa.types.is_string,),
    int: (pa.types.is_integer,),
    float: (pa.types.is_floating,),
    bool: (pa.types.is_boolean,),
    datetime.date: (pa.types.is_date,),
    datetime.datetime: (pa.types.is_timestamp,),
}


def _fits(hint: object, arrow_type: pa.DataType) -> bool:
    """The Python type a record declares can be stored in the Arrow type."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, __import__("types").UnionType) and len(args) == 1:
        return _fits(args[0], arrow_type)
    if typing.get_origin(hint) is list:
        return pa.types.is_list(arrow_type) and _fits(args[0], arrow_type.value_type)
    checks = _PYTHON_TO_ARROW.get(hint)  # type: ignore[call-overload]
    return checks is not None and any(check(arrow_type) for check in checks)


def stored_disagreements(
    schema: pa.Schema, record: type, transient: frozenset[str] = frozenset()
) -> list[str]:
    """Where a table's Arrow schema and its record type disagree (names, types)."""
    hints = typing.get_type_hints(record)
    stored, declared = set(schema.names), set(hints) - transient
    problems = [
        f"{name}: in the Parquet schema, not in {record.__name__}" for name in sorted(stored - declared)
    ]
    problems += [
        f"{name}: in {record.__name__}, not in the Parquet schema" for name in sorted(declared - stored)
    ]
    problems += [
        f"{name}: {record.__name__} says {hints[name]}, the Parquet schema {schema.field(name).type}"
        for name in sorted(stored & declared)
        if not _fits(hints[name], schema.field(name).type)
    ]
    return problems


def produced_disagreements(row: dict[str, object], record: type, transient: frozenset[str]) -> list[str]:
    """Where the row extraction produces and its record type disagree."""
    hints = typing.get_type_hints(record, include_extras=True)
    required = {name for name, hint in hints.items() if typing.get_origin(hint) is not typing.NotRequired}
    declared = set(hints)
    problems = [
        f"{name}: produced by extraction, not in {record.__name__}" for name in sorted(set(row) - declared)
    ]
    problems += [
        f"{name}: required by {record.__name__}, not produced" for name in sorted(required - set(row))
    ]
    return problems


def view_disagreements(view: str, built: list[tuple[str, str]], documented: list[Column]) -> list[str]:
    """Where a view DuckDB built and its file's header disagree (names, order, types)."""
    written = [(c.name, c.type) for c in documented]
    if built == written:
        return []
    problems = [f"{view}.{n}: {t} in the view, not in its header" for n, t in built if (n, t) not in written]
    problems += [f"{view}.{n}: {t} in its header, not in the view" for n, t in written if (n, t) not in built]
    return problems or [f"{view}: its header lists the columns in another order than the view"]


def built_columns(catalog: str) -> dict[str, list[tuple[str, str]]]:
    names = {"TIMESTAMP WITH TIME ZONE": "TIMESTAMPTZ"}
    with duckdb.connect(catalog, read_only=True) as con:
        listed = con.execute(
            "select view_name from duckdb_views() where not internal and schema_name = 'main'"
        ).fetchall()
        views = [row[0] for row in listed]
        return {
            view: [
                (row[0], names.get(row[1], row[1])) for row in con.execute(f'describe "{view}"').fetchall()
            ]
            for view in views
        }


def _a_document() -> dict[str, object]:
    article = make_article(3)
    html = news_page(article, "https://news.test/a.html").encode()
    outcome = extract_page(
        Page("https://news.test/a.html", html, datetime.datetime.now(datetime.UTC), "a.html"),
        ExtractOptions(),
    )
    assert outcome.document is not None, outcome.reject
    return dict(outcome.document)


# ---- the project as it is


@pytest.mark.unit
def test_stored_tables_and_record_types_agree() -> None:
    problems = stored_disagreements(DOCUMENT_SCHEMA, DocumentRow, TRANSIENT)
    problems += stored_disagreements(REJECT_SCHEMA, RejectRow)
    assert not problems, "\n".join(problems)


@pytest.mark.unit
def test_extraction_produces_the_record_type() -> None:
    problems = produced_disagreements(_a_document(), DocumentRow, TRANSIENT)
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory, sample_warehouse: Sample) -> dict[str, str]:
    """Catalogs of an empty warehouse and of the session's sample warehouse."""
    empty = Warehouse(str(tmp_path_factory.mktemp("empty") / "wh"))
    build_views(empty)
    return {"empty": empty.catalog, "sample": sample_warehouse.catalog}


@pytest.mark.flow
@pytest.mark.parametrize("which", ["empty", "sample"])
def test_every_view_has_the_columns_its_header_documents(warehouses: dict[str, str], which: str) -> None:
    documented = documented_columns()
    built = built_columns(warehouses[which])
    assert set(built) == set(documented), "every view file documents its columns"
    problems = [p for view in sorted(built) for p in view_disagreements(view, built[view], documented[view])]
    assert not problems, "\n".join(problems)


@pytest.mark.flow
def test_every_stored_documents_column_reaches_the_documents_view(warehouses: dict[str, str]) -> None:
    view = {name for name, _ in built_columns(warehouses["empty"])["documents"]}
    view |= {stored for stored, shown in RENAMED_IN_VIEW.items() if shown in view}
    missing = set(DOCUMENT_SCHEMA.names) | set(DOCUMENTS.partitions)
    assert not missing - view, f"stored but not in the documents view: {sorted(missing - view)}"


@pytest.mark.flow
def test_the_catalog_carries_each_columns_documentation(warehouses: dict[str, str]) -> None:
    with duckdb.connect(warehouses["empty"], read_only=True) as con:
        comment = con.execute(
            "select comment from duckdb_columns() where table_name = 'articles' and column_name = 'copies'"
        ).fetchone()
    assert comment == ("pages carrying this article (1 = no copies elsewhere)",)


# ---- the checks fail when a column is added in one place only


@pytest.mark.unit
def test_a_column_added_to_the_parquet_schema_only_is_found() -> None:
    schema = DOCUMENT_SCHEMA.append(pa.field("sentiment", pa.float32()))
    assert stored_disagreements(schema, DocumentRow, TRANSIENT) == [
        "sentiment: in the Parquet schema, not in DocumentRow"
    ]


@pytest.mark.unit
def test_a_column_added_to_the_record_only_is_found() -> None:
    record = typing.TypedDict("DocumentRow", {**typing.get_type_hints(DocumentRow), "sentiment": float})  # type: ignore[misc]
    assert stored_disagreements(DOCUMENT_SCHEMA, record, TRANSIENT) == [
        "sentiment: in DocumentRow, not in the Parquet schema"
    ]


@pytest.mark.unit
def test_a_column_stored_with_another_type_is_found() -> None:
    index = DOCUMENT_SCHEMA.get_field_index("word_count")
    schema = DOCUMENT_SCHEMA.set(index, pa.field("word_count", pa.string()))
    assert stored_disagreements(schema, DocumentRow, TRANSIENT) == [
        "word_count: DocumentRow says <class 'int'>, the Parquet schema string"
    ]


@pytest.mark.unit
def test_a_column_added_to_extraction_only_is_found() -> None:
    row = {**_a_document(), "sentiment": 0.5}
    assert produced_disagreements(row, DocumentRow, TRANSIENT) == [
        "sentiment: produced by extraction, not in DocumentRow"
    ]


@pytest.mark.unit
def test_a_column_added_to_a_view_or_its_header_only_is_found() -> None:
    documented = documented_columns()["daily_counts"]
    built = [(c.name, c.type) for c in documented]
    assert view_disagreements("daily_counts", [*built, ("sources", "VARCHAR[]")], documented) == [
        "daily_counts.sources: VARCHAR[] in the view, not in its header"
    ]
    extra = [*documented, Column("sources", "VARCHAR[]", "")]
    assert view_disagreements("daily_counts", built, extra) == [
        "daily_counts.sources: VARCHAR[] in its header, not in the view"
    ]


@pytest.mark.unit
def test_a_header_that_documents_another_type_is_found(tmp_path: Path) -> None:
    sql = tmp_path / "sql"
    sql.mkdir()
    (sql / "counts.sql").write_text(
        "-- counts: a sum.\n--   total   BIGINT   summed\n"
        "CREATE OR REPLACE VIEW counts AS SELECT sum(seen) AS total FROM internal.runs;\n"
    )
    store = Warehouse(tempfile.mkdtemp(dir=tmp_path))
    build_views(store, sql)
    built = built_columns(store.catalog)["counts"]
    assert view_disagreements("counts", built, documented_columns(sql)["counts"]) == [
        "counts.total: HUGEINT in the view, not in its header",
        "counts.total: BIGINT in its header, not in the view",
    ]
