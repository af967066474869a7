"""The hard near-duplicate cases (tests/dup_cases.py): copies kept in part on another template with its
leftovers, copies cut short and edited, and briefs quoting one paragraph, which must stay apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from dup_cases import CASES, evaluate, families

from flows.config import DedupConfig
from flows.warehouse import Warehouse

pytestmark = pytest.mark.unit


def test_copies_join_their_original_and_quoting_briefs_stay_apart(tmp_path: Path) -> None:
    report = evaluate(families(40), DedupConfig(), Warehouse(str(tmp_path / "wh")))
    assert report.lost == []
    for case in CASES:
        assert report.recall[case] >= 0.95, (case, report)
    assert report.briefs == 40 and report.briefs_merged == 0, report
    assert report.pairwise_precision >= 0.995 and report.pairwise_recall >= 0.98, report


def test_without_the_lead_and_paragraph_rules_cut_and_edited_copies_are_missed(tmp_path: Path) -> None:
    """What the lead signature and the paragraph spread are for: whole-text similarity alone misses most
    copies cut short and edited (this is the measure the defaults above are judged against)."""
    plain = DedupConfig(lead_bands=0, spread=1.0, spread_paragraphs=10_000)
    report = evaluate(families(40), plain, Warehouse(str(tmp_path / "wh")))
    assert report.recall["cut_edited"] < 0.8, report
    assert report.briefs_merged == 0
