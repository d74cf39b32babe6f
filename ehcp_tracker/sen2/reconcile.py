"""``ehcp sen2 reconcile``: the council's 20-week figures three ways, then the cases that differ.

Why three columns: a council's own figure, the one its return gives by DfE's method and the one DfE
publishes rarely agree, and a board asks why. The tracker column is the tracker's ``final_plan``
clocks (plans issued in the calendar year, the exceptions it applies); the return column is DfE's
method applied to the file (rules/sen2/measures.toml: plans whose StartDate falls in the year, weeks
from the request's ReceivedDate, Week20 = 1 left out "excluding exceptions"); the DfE column is the
council's all-plans row of the published ``timeliness_20_week.csv``. The case-level differences
match the return's plans to the tracker's cases by the keys the import mints (keys.py), so they are
exact for cases that came from a return into this database.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from ..clocks.engine import evaluate
from ..clocks.rules import RuleBook
from ..schema import ASSESSMENTS
from ..store import db
from .dfe import KPI_FILES, TIMELINESS, kpi_row
from .keys import SECRET_NAME
from .mapping import plans

# the rows, in words ("plans issued", "within 20 weeks (incl. exceptions)", ...), then the 6-week and
# 4-week decisions and the phase transfers (DfE's requests.csv, annual_reviews.csv, phase_transfers.csv)
MEASURES = [*TIMELINESS, *(words for measures in KPI_FILES.values() for words in measures)]


@dataclass(frozen=True)
class Convention:
    within_days: int
    year_days: int
    note: str
    decision_days: int = 42
    review_days: int = 28


def load_convention(rules_dir: Path) -> Convention:
    path = Path(rules_dir) / "sen2" / "measures.toml"
    data = tomllib.loads(path.read_text("utf-8"))["measures"]
    return Convention(int(data["within_days"]), int(data["year_days"]), str(data["convention"]),
                      int(data["decision_days"]), int(data["review_days"]))


def measures(days: pd.Series, exception: pd.Series, rule: Convention) -> dict[str, float]:
    """The DfE measures of a set of plans: ``days`` from request to plan (NaN where unknown), the
    exception flag of each. Unknown days stay in the denominators and in no band."""
    days = pd.to_numeric(days, errors="coerce").astype(float)
    exception = exception.astype(bool)
    known = days.notna()
    within = known & (days <= rule.within_days)

    def average(mask) -> float:
        chosen = days[mask & known]
        return round(float(chosen.mean()) / 7, 1) if len(chosen) else math.nan

    return {
        "plans issued": float(len(days)), "plans issued (excl. exceptions)": float((~exception).sum()),
        "within 20 weeks (incl. exceptions)": float(within.sum()),
        "within 20 weeks (excl. exceptions)": float((within & ~exception).sum()),
        "20 to 52 weeks (incl. exceptions)": float((known & (days > rule.within_days) & (days <= rule.year_days)).sum()),
        "over a year (incl. exceptions)": float((known & (days > rule.year_days)).sum()),
        "average weeks (incl. exceptions)": average(pd.Series(True, index=days.index)),
        "average weeks (excl. exceptions)": average(~exception),
    }


@dataclass
class Reconciliation:
    file: str
    la: str
    year: int
    table: pd.DataFrame  # measure, tracker, return, dfe
    differences: pd.DataFrame  # case_id, person, difference, correct
    notes: list[str] = field(default_factory=list)


DIFFERENCE_COLUMNS = ["case_id", "person", "difference", "tracker", "return", "correct"]


def reconcile(engine: Engine, book: RuleBook, as_of: dt.date, path: Path, rules_dir: Path, *,
              dfe=None, year: int | None = None) -> Reconciliation:
    from ..errors import EhcpError
    from .importing import read_any
    from .presubmission import is_presubmission

    if is_presubmission(path):  # no LA to find the council's published row by
        raise EhcpError(f"{Path(path).name}: a pre-submission workbook has no header (no LA, no year): reconcile "
                        "the XML or the Blade export of the return")
    ret = read_any(path)  # the XML or a Blade export
    year = year or ret.header.year - 1  # the collection year covers the calendar year before it
    rule = load_convention(rules_dir)
    first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
    found = [p for p in plans(ret, lambda: db.secret(engine, SECRET_NAME))
             if first.isoformat() <= p.start <= last.isoformat()]
    theirs = pd.DataFrame({"case_id": [p.request_id for p in found], "person": [p.position for p in found],
                           "received": pd.to_datetime(pd.Series([p.received or None for p in found], dtype=object)),
                           "start": pd.to_datetime(pd.Series([p.start for p in found], dtype=object)),
                           "exception": [p.exception for p in found]})
    theirs["days"] = (theirs["start"] - theirs["received"]).dt.days
    ours = tracker_plans(engine, book, as_of, first, last)
    table = pd.DataFrame({"measure": MEASURES})
    table["tracker"] = _column(measures(ours["days"], ours["exception"], rule)
                               | tracker_decisions(engine, book, as_of, first, last))
    table["return"] = _column(measures(theirs["days"], theirs["exception"], rule) | return_decisions(ret, year, rule))
    notes = [f"the return's column: DfE's method as rules/sen2/measures.toml holds it (within 20 weeks: at most "
             f"{rule.within_days} days; 6 weeks: {rule.decision_days}; 4 weeks: {rule.review_days}; {rule.note}); "
             "the tracker's 6- and 4-week rows are its decision_to_assess and review_decision clocks, met or late"]
    published: dict[str, float] = {}
    for file in ([dfe] if isinstance(dfe, (str, Path)) else list(dfe or [])):
        found, why = kpi_row(Path(file), ret.header.la, year)
        published |= found
        if why:
            notes.append(why)
    table["dfe"] = _column(published)
    return Reconciliation(ret.file, ret.header.la, year, table, differences(ours, theirs), notes)


def _column(values: dict[str, float]) -> pd.Series:
    """One source's column: counts as whole numbers, averages to one decimal, blank where unknown."""
    out = []
    for name in MEASURES:
        value = values.get(name, math.nan)
        out.append(None if value is None or math.isnan(value) else int(value) if float(value).is_integer()
                   and not name.startswith("average") else value)
    return pd.Series(out, dtype=object)


def return_decisions(ret, year: int, rule: Convention) -> dict[str, float]:
    """The 6-week decisions whether to assess (Y or N decided in the year), the 4-week review
    decisions (LastReview in the year, after its ReviewMeeting) and the phase transfers
    (PhaseTransferDueDate, PhaseTransferFinalDate in the year), by DfE's method, from the file."""
    from .check import _date

    decided, reviewed = [], []
    due = final = 0
    for person in ret.persons:
        for request in person.all("Requests"):
            made, received = _date(request.get("RequestOutcomeDate")), _date(request.get("ReceivedDate"))
            if request.get("RequestOutcome") in ("Y", "N") and made and received and made.year == year:
                decided.append((made - received).days)
            active = request.first("ActivePlans")
            if active is not None:
                meeting, last = _date(active.get("ReviewMeeting")), _date(active.get("LastReview"))
                if meeting and last and last.year == year and last >= meeting:
                    reviewed.append((last - meeting).days)
                # DfE's phase_transfers.csv counts plans by these dates' years (due_25, final_25)
                transfer_due, transfer_final = (_date(active.get("PhaseTransferDueDate")),
                                                _date(active.get("PhaseTransferFinalDate")))
                due += bool(transfer_due and transfer_due.year == year)
                final += bool(transfer_final and transfer_final.year == year)
    return {"decisions whether to assess within 6 weeks": float(sum(d <= rule.decision_days for d in decided)),
            "decisions whether to assess over 6 weeks": float(sum(d > rule.decision_days for d in decided)),
            "review decisions within 4 weeks": float(sum(d <= rule.review_days for d in reviewed)),
            "review decisions over 4 weeks": float(sum(d > rule.review_days for d in reviewed)),
            "phase transfer reviews due in the year": float(due),
            "final plans after a phase transfer review issued in the year": float(final)}


def tracker_decisions(engine: Engine, book: RuleBook, as_of: dt.date, first: dt.date, last: dt.date) -> dict[str, float]:
    """The tracker's decisions made in the period, met or late by its own clocks (the law's counting)."""
    from ..schema import REVIEWS

    out = {}
    for kind, clock, words in ((ASSESSMENTS, "decision_to_assess", "decisions whether to assess"),
                               (REVIEWS, "review_decision", "review decisions")):
        with engine.connect() as conn:
            cases = db.load_cases(conn, kind)
        results = evaluate(cases, book, as_of, case=kind.case, clocks=[clock]) if len(cases) else None
        if results is None or not len(results):
            made = results
            met = late = 0
        else:
            made = results[(results["stop_reason"] == "event") & (results["stopped"] >= pd.Timestamp(first))
                           & (results["stopped"] <= pd.Timestamp(last))]
            met, late = int((made["status"] == "met").sum()), int((made["status"] == "late").sum())
        weeks = "6 weeks" if clock == "decision_to_assess" else "4 weeks"
        out[f"{words} within {weeks}"], out[f"{words} over {weeks}"] = float(met), float(late)
    return out


def tracker_plans(engine: Engine, book: RuleBook, as_of: dt.date, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The tracker's final plans issued between ``first`` and ``last``: its final_plan clocks stopped by the plan."""
    with engine.connect() as conn:
        cases = db.load_cases(conn, ASSESSMENTS)
    clocks = evaluate(cases, book, as_of, clocks=["final_plan"]) if len(cases) else None
    if clocks is None or not len(clocks):
        return pd.DataFrame({"case_id": [], "received": [], "start": [], "exception": [], "days": []})
    issued = clocks[(clocks["stop_reason"] == "event") & (clocks["stopped"] >= pd.Timestamp(first))
                    & (clocks["stopped"] <= pd.Timestamp(last))]
    out = pd.DataFrame({"case_id": issued["case_id"].to_numpy(dtype=object),
                        "received": issued["started"].to_numpy(), "start": issued["stopped"].to_numpy(),
                        "exception": issued["exception"].notna().to_numpy()})
    out["days"] = (out["start"] - out["received"]).dt.days
    return out


def differences(ours: pd.DataFrame, theirs: pd.DataFrame) -> pd.DataFrame:
    """Each plan in one and not the other, or with other dates or another exception flag."""
    rows = []
    mine = ours.set_index("case_id")
    other = theirs.set_index("case_id")
    for case_id, plan in other.iterrows():
        if case_id not in mine.index:
            rows.append([None, plan["person"], "in the return, not in the tracker", "", _day(plan["start"]),
                         "import the return (ehcp import) or add the request to the case system"])
            continue
        have = mine.loc[case_id]
        for what, column, tracker_column in (("ReceivedDate", "received", "request_received"),
                                              ("StartDate", "start", "final_plan_issued")):
            if _day(have[column]) != _day(plan[column]):
                rows.append([case_id, plan["person"], f"{what} differs", _day(have[column]), _day(plan[column]),
                             f"correct {tracker_column} in the case system, or {what} in the return"])
        if bool(have["exception"]) != bool(plan["exception"]):
            rows.append([case_id, plan["person"], "exception flag differs",
                         "exception" if have["exception"] else "none", "Week20 = 1" if plan["exception"] else "Week20 = 0",
                         "record the exception's ground in the case system, or correct Week20 in the return"])
    for case_id, plan in mine.iterrows():
        if case_id not in other.index:
            rows.append([case_id, None, "in the tracker, not in the return", _day(plan["start"]), "",
                         "add the plan to the return (NamedPlan/StartDate), or correct final_plan_issued"])
    frame = pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)
    frame["person"] = frame["person"].astype("Int64")
    return frame


def _day(value) -> str:
    return "" if value is None or pd.isna(value) else str(pd.Timestamp(value).date())


def write(result: Reconciliation, output: Path) -> Path:
    """FILE.csv (the table, a blank line, the differences), FILE.xlsx (two sheets) or FILE.html."""
    from ..files import atomic_open
    from ..output import to_csv

    suffix = output.suffix.lower()
    if suffix == ".csv":
        with atomic_open(output, "w", newline="") as handle:
            handle.write(to_csv(result.table) + "\n" + to_csv(result.differences))
    elif suffix == ".xlsx":
        _xlsx(result, output)
    elif suffix == ".html":
        with atomic_open(output, "w") as handle:
            handle.write(_html(result))
    else:
        from ..errors import UsageError

        raise UsageError("--output must end .csv, .xlsx or .html")
    return output


def _xlsx(result: Reconciliation, output: Path) -> None:
    import io

    from openpyxl import load_workbook

    from ..files import atomic_open
    from ..output import to_xlsx

    first, second = io.BytesIO(), io.BytesIO()
    to_xlsx(result.table, first, sheet="reconciliation")
    to_xlsx(result.differences, second, sheet="differences")
    book = load_workbook(io.BytesIO(first.getvalue()))
    other = load_workbook(io.BytesIO(second.getvalue()))["differences"]
    sheet = book.create_sheet("differences")
    for row in other.iter_rows(values_only=True):
        sheet.append(list(row))
    with atomic_open(output, "wb") as handle:
        book.save(handle)


def _html(result: Reconciliation) -> str:
    from html import escape

    def table(frame: pd.DataFrame) -> str:
        head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
        body = "".join("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>"
                       for row in frame.itertuples(index=False))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    notes = "".join(f"<li>{escape(n)}</li>" for n in result.notes)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>SEN2 reconciliation {result.year}"
            f"</title><style>body{{font-family:sans-serif}}td,th{{border:1px solid #999;padding:2px 6px}}"
            f"table{{border-collapse:collapse;margin-bottom:1em}}</style></head><body>"
            f"<h1>20-week timeliness {result.year}: LA {escape(result.la)}</h1>{table(result.table)}"
            f"<ul>{notes}</ul><h2>Cases that differ ({len(result.differences)})</h2>{table(result.differences)}"
            "</body></html>\n")


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
