"""Regenerate the binary fixtures in this folder (python tests/data/make_fixtures.py).

Everything is synthetic: codes such as R0001 and P0001, invented dates. No real-looking personal data.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent


def system_b_reviews() -> None:
    """A reviews export as it comes: a title row and a blank row above the header, IDs that Excel
    turned into floats, dates as Excel dates and as dd/mm/yyyy text, flags as True/False and 1/0,
    trailing blank rows."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Annual Reviews"
    sheet.append(["Annual reviews report - run 01/05/2024"])
    sheet.append([])
    sheet.append(["ReviewRef", "PersonRef", "AllocatedWorker", "Team", "PlanStartDate", "LastReviewDate",
                  "NCYear", "ReviewMeetingDate", "ReviewOutcomeNotifiedDate", "ReviewOutcome", "LAC", "CAMHS",
                  "Report Notes"])
    sheet.append([1001.0, 5001.0, "CW1", "North", dt.datetime(2022, 9, 5), dt.datetime(2023, 9, 20), 5,
                  dt.datetime(2024, 3, 1), None, None, True, 0, "synthetic"])
    sheet.append([1002.0, 5002.0, "CW2", "South", "14/06/2021", "30/06/2023", "R", None, None, None, False, 1, ""])
    sheet.append([1003.0, 5003.0, "CW1", "North", "01/02/2020", "15/02/2023", 9, "10/01/2024", "25/01/2024",
                  "Maintain Plan", 1, "N", None])
    sheet.append([None] * 13)
    sheet.append([])
    book.save(HERE / "system-b-reviews.xlsx")
    data = (HERE / "system-b-reviews.xlsx").read_bytes()
    (HERE / "truncated.xlsx").write_bytes(data[: len(data) // 2])


if __name__ == "__main__":
    system_b_reviews()
