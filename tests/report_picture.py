"""docs/report.png, the picture of the report README.md shows: the offline sample ingested into a fresh
warehouse, `corpus report` made from it, and the top of the page photographed by headless Chromium.

    .venv/bin/python tests/report_picture.py        (`make docs` runs it; without Chromium it says so)
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / ".venv" / "bin" / "corpus"
PICTURE = REPO / "docs" / "report.png"


def main() -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("docs/report.png not made: chromium is not installed (Debian package `chromium`)")
        return 0
    with tempfile.TemporaryDirectory(prefix="corpus-picture-") as folder:
        work = Path(folder)
        config = work / "sources.toml"
        text = (REPO / "seeds" / "sources.toml").read_text(encoding="utf-8")
        text = text.replace('path = "../warehouse"', f'path = "{work / "warehouse"}"')
        text = text.replace('path = "sample/', f'path = "{REPO / "seeds" / "sample"}/')
        text = text.replace('path = "archive/', f'path = "{REPO / "seeds" / "archive"}/')
        config.write_text(text, encoding="utf-8")
        for args in (["ingest"], ["report", "--output", str(work / "report.html")]):
            subprocess.run([str(CORPUS), *args, "--config", str(config)], check=True, capture_output=True)
        subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--window-size=900,1500", f"--screenshot={PICTURE}", (work / "report.html").as_uri()],
            check=True, capture_output=True,
        )  # fmt: skip
    print(f"{PICTURE.relative_to(REPO)}: {PICTURE.stat().st_size // 1024} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
