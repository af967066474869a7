"""Near-duplicate detection on the hard cases of tests/dup_cases.py: pairwise precision and recall per
case (copies on another template kept in part with its leftovers, copies cut to 50-80 % and edited,
whole syndicated copies) and quoting briefs merged, with the default settings and, side by side, without
the lead signature and the paragraph-spread rule (whole-text similarity only).

    .venv/bin/python tests/bench/bench_dedup_cases.py [--families 300]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from dup_cases import CASES, evaluate, families  # noqa: E402

from flows.config import DedupConfig  # noqa: E402
from flows.warehouse import Warehouse  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--families", type=int, default=300)
    args = parser.parse_args()
    pages = families(args.families)
    settings = {
        "defaults": DedupConfig(),
        "whole text only": DedupConfig(lead_bands=0, spread=1.0, spread_paragraphs=10_000),
    }
    print(f"{args.families} families, {len(pages)} pages")
    for name, options in settings.items():
        with tempfile.TemporaryDirectory() as folder:
            report = evaluate(pages, options, Warehouse(folder))
        overall = f"pairwise precision {report.pairwise_precision:.4f} recall {report.pairwise_recall:.4f}"
        print(f"\n{name}: {overall}")
        for case in CASES:
            print(f"  {case:<11} precision {report.precision[case]:.4f} recall {report.recall[case]:.4f}")
        print(f"  briefs merged {report.briefs_merged} of {report.briefs}; pages lost {len(report.lost)}")
        print(f"  classify {report.classify_docs_s:.0f} docs/s (one core, {len(pages)} documents)")


if __name__ == "__main__":
    main()
