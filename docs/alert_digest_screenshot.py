"""Regenerate docs/alert-digest.png: a caseworker's digest on the second night of alerts.

Night one (2 November 2026) sends the sample caseload's first digests; then tonight's extract
brings a final plan issued late (R0000240) and a corrected request date (R0000353), and night two
(9 November) sends CW001 what is new: every section of a digest at once.

    python docs/alert_digest_screenshot.py      # from the repository root
"""

from __future__ import annotations

import csv
import datetime as dt
import email
import email.policy
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ehcp_tracker.alerts.delivery import OutboxDelivery  # noqa: E402
from ehcp_tracker.alerts.people import read_people  # noqa: E402
from ehcp_tracker.alerts.run import send_alerts  # noqa: E402
from ehcp_tracker.clocks.rules import load_rule_book  # noqa: E402
from ehcp_tracker.ingest.importer import import_extract  # noqa: E402
from ehcp_tracker.store import db  # noqa: E402

NIGHT_ONE, NIGHT_TWO = dt.date(2026, 11, 2), dt.date(2026, 11, 9)
PEOPLE = [("CW001", "Alex Example", "North"), ("CW002", "Sam Example", "South"), ("CW003", "Jo Example", "East"),
          ("CW004", "Chris Example", "West")]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def tonights_extract(path: Path) -> Path:
    with open(ROOT / "sample_data" / "assessments.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["request_id"] == "R0000240":  # the plan is issued, late
            row.update(assessment_outcome="issue", assessment_outcome_date=row["assessment_outcome_date"] or "2026-10-20",
                       draft_plan_issued=row["draft_plan_issued"] or "2026-10-21", final_plan_issued="2026-11-04")
        if row["request_id"] == "R0000353":  # the request date is corrected
            row["request_received"] = "2026-10-07"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def main(out: Path = ROOT / "docs" / "alert-digest.png", width: int = 1000, height: int = 1700) -> Path:
    from playwright.sync_api import sync_playwright

    book = load_rule_book(ROOT / "rules")
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        people_file = work / "people.csv"
        people_file.write_text("id,name,email,team,role\n" + "".join(
            f"{i},{n},{n.split()[0].lower()}.example@council.example,{t},caseworker\n" for i, n, t in PEOPLE),
            encoding="utf-8")
        people = read_people(people_file)
        engine = db.connect(f"sqlite:///{work / 'sample.db'}")
        db.init_db(engine)
        for name in ("assessments.csv", "reviews.csv"):
            import_extract(engine, ROOT / "sample_data" / name, book, NIGHT_ONE)
        send_alerts(engine, book, NIGHT_ONE, people, OutboxDelivery(work / "night1", NIGHT_ONE), sender="a@b.example")
        import_extract(engine, tonights_extract(work / "assessments.csv"), book, NIGHT_TWO)
        send_alerts(engine, book, NIGHT_TWO, people, OutboxDelivery(work / "night2", NIGHT_TWO), sender="a@b.example")
        engine.dispose()
        message = email.message_from_bytes((work / "night2" / f"{NIGHT_TWO}-CW001.eml").read_bytes(),
                                           policy=email.policy.default)
        page_file = work / "digest.html"
        page_file.write_text(message.get_body(("html",)).get_content(), encoding="utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(page_file.as_uri())
            page.screenshot(path=str(out), full_page=True)
            browser.close()
        print(message.get_body(("plain",)).get_content())
    return out


if __name__ == "__main__":
    print(main())
