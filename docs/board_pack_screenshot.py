"""Regenerate docs/board-pack.png: the top of the sample board pack, in the same headless Chromium as
the browser test.

    python docs/board_pack_screenshot.py        # from the repository root
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ehcp_tracker.store import db  # noqa: E402
from ehcp_tracker.ingest.importer import import_extract  # noqa: E402
from ehcp_tracker.report import write_pack  # noqa: E402
from ehcp_tracker.clocks.rules import load_rule_book  # noqa: E402

AS_OF, MONTH = dt.date(2026, 11, 2), "2026-10"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(out: Path = ROOT / "docs" / "board-pack.png", width: int = 1280, height: int = 1560) -> Path:
    from playwright.sync_api import sync_playwright

    book = load_rule_book(ROOT / "rules")
    with tempfile.TemporaryDirectory() as work:
        engine = db.connect(f"sqlite:///{Path(work) / 'sample.db'}")
        db.init_db(engine)
        for name in ("assessments.csv", "reviews.csv"):
            import_extract(engine, ROOT / "sample_data" / name, book, AS_OF)
        pack = write_pack(engine, book, MONTH, AS_OF, Path(work) / "pack.html", "html")
        engine.dispose()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(pack.as_uri())
            page.screenshot(path=str(out), clip={"x": 0, "y": 0, "width": width, "height": height})
            browser.close()
    return out


if __name__ == "__main__":
    print(main())
