"""The labelled listing suite (tests/listing_shapes.py): 62 shapes of sitemaps, feeds and sites, each on
its own server on 127.0.0.1, read through `corpus sources add` and the ingest flow. Recall and precision
are of the pages the crawler asked for, against each shape's label."""

from __future__ import annotations

from pathlib import Path

import pytest
from listing_shapes import _add_with_cli, run_shapes, table, totals


@pytest.mark.flow
def test_every_listing_shape_yields_its_pages(tmp_path: Path) -> None:
    results = run_shapes(tmp_path, _add_with_cli)
    print(table(results))
    assert len(results) >= 40
    recall, precision = totals(results)
    assert recall >= 0.99 and precision >= 0.99, table(results)
    for result in results:  # damage said where there is some, and only there
        assert (result.damage_rows > 0) == result.damaged, (result.shape, result.damage_rows)
