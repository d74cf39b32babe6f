"""STAND-IN for the KPI library (``ehcp_tracker/kpi.py``, issue 4), used by the board pack only until
that library is merged. Delete this file when it is.

It follows the agreed contract of the real library, so the report is built against the contract
and not against this file:

- ``load_catalogue()`` -> the KPI catalogue (here a list of dicts: id, title, target);
- ``compute_kpis(engine, book, catalogue, month="YYYY-MM", as_of=date)`` -> DataFrame with columns
  ``kpi``, ``period``, ``basis`` (``month`` / ``year_to_date``), ``numerator``, ``denominator``,
  ``value`` (percent to one decimal, blank when the denominator is 0; the count itself for counts),
  ``target``;
- ``tracker(engine, book, year, as_of)`` -> one row a month and a total row.

The figures come straight from ``listings.clock_results``: a rate counts the clocks of that kind
stopped by their event in the period (``met`` on time); exception cases are left out of both sides
only in the ``_excl_exceptions`` measure (DfE, statutory-rules.md 2.2); open counts are a snapshot at
the end of the period. Targets here are illustrative, not a council's.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd

from .listings import clock_results

SOURCE = "interim stand-in (ehcp_tracker/kpi_standin.py) until the KPI library is merged"

# id, title, clock it counts, how, target (percent for rates; None: no target)
_CATALOGUE = [
    ("plans_within_20_weeks", "Final plans issued within 20 weeks (incl. exceptions)", "final_plan", "rate", 60.0),
    ("plans_within_20_weeks_excl_exceptions", "Final plans issued within 20 weeks (excl. exceptions)",
     "final_plan", "rate_excl", 60.0),
    ("decisions_within_6_weeks", "Decisions whether to assess within 6 weeks", "decision_to_assess", "rate", 90.0),
    ("advice_within_6_weeks_ep", "EP advice within 6 weeks", "advice_ep", "rate", 90.0),
    ("advice_within_6_weeks_health", "Health advice within 6 weeks", "advice_health", "rate", 90.0),
    ("advice_within_6_weeks_social_care", "Social care advice within 6 weeks", "advice_social_care", "rate", 90.0),
    ("advice_within_6_weeks_education", "Education advice within 6 weeks", "advice_education", "rate", 90.0),
    ("no_plan_within_16_weeks", "Decisions not to issue within 16 weeks", "no_plan_notice", "rate", 90.0),
    ("plans_issued", "Final plans issued", "final_plan", "stopped", None),
    ("requests_agreed", "Requests agreed for assessment", None, "agreed", None),
    ("reviews_on_time", "Annual reviews concluded within 12 months", "annual_review", "rate", 80.0),
    ("review_decisions_within_4_weeks", "Review decisions within 4 weeks of the meeting", "review_decision",
     "rate", 80.0),
    ("amendments_within_8_weeks", "Amended plans within 8 weeks of the notice", "amended_plan", "rate", 80.0),
    ("open_assessments", "Open assessments at month end", "final_plan", "open", None),
    ("open_assessments_over_20_weeks", "Open assessments past 20 weeks at month end", "final_plan", "open_over",
     None),
    ("open_reviews_overdue", "Annual reviews overdue at month end", "annual_review", "open_over", None),
]
# The DfE suppressed councils that classed all new plans as exceptions (statutory-rules.md 2.2, 3.4).
IMPLAUSIBLE_EXCEPTION_SHARE = 0.25


def load_catalogue() -> list[dict]:
    return [{"id": i, "title": t, "clock": c, "how": h, "target": g} for i, t, c, h, g in _CATALOGUE]


def _month_bounds(month: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    start = pd.Timestamp(f"{month}-01")
    return start, start + pd.offsets.MonthEnd(0)


def _measure(results: pd.DataFrame, cases: pd.DataFrame, item: dict, start, end) -> tuple[float, float | None]:
    """(numerator, denominator) of one KPI over [start, end]; denominator None for counts."""
    how = item["how"]
    if how == "agreed":
        day = cases["request_outcome_date"]
        return float(((cases["request_outcome"] == "assess") & (day >= start) & (day <= end)).sum()), None
    rows = results[results["clock"] == item["clock"]]
    if how in ("open", "open_over"):
        running = (rows["started"] <= end) & (rows["stopped"].isna() | (rows["stopped"] > end))
        if how == "open_over":
            running &= rows["due"] < end
        return float(running.sum()), None
    done = rows[(rows["stop_reason"] == "event") & (rows["stopped"] >= start) & (rows["stopped"] <= end)]
    if how == "stopped":
        return float(len(done)), None
    if how == "rate_excl":
        done = done[done["exception"].isna()]
    return float((done["status"] == "met").sum()), float(len(done))


def _rows(results, cases, catalogue, period: str, basis: str, start, end) -> list[dict]:
    rows = []
    for item in catalogue:
        numerator, denominator = _measure(results, cases, item, start, end)
        if denominator is None:
            value = numerator
        else:
            value = round(100 * numerator / denominator, 1) if denominator else np.nan
        rows.append({"kpi": item["id"], "period": period, "basis": basis, "numerator": numerator,
                     "denominator": np.nan if denominator is None else denominator, "value": value,
                     "target": np.nan if item["target"] is None else item["target"]})
    return rows


_CACHE: dict = {}


def _inputs(engine, book, as_of):
    """Clock results and assessment cases, computed once per database state (the latest import run)."""
    import sqlalchemy as sa

    from . import db

    with engine.connect() as conn:
        latest = conn.execute(sa.select(sa.func.max(db.import_run.c.id))).scalar_one()
    key = (str(engine.url), id(engine), book.fingerprint, as_of, latest)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = _load_inputs(engine, book, as_of)
    return _CACHE[key]


def _load_inputs(engine, book, as_of):
    from . import db
    from .schema import KINDS

    results = clock_results(engine, book, as_of)
    with engine.connect() as conn:
        cases = db.load_cases(conn, KINDS["assessments"], include_missing=False)
    cases = cases.assign(request_outcome_date=pd.to_datetime(cases["request_outcome_date"]))
    cases.loc[cases["request_outcome_date"] > pd.Timestamp(as_of), "request_outcome"] = None
    return results, cases


def compute_kpis(engine, book, catalogue, month: str, as_of: dt.date) -> pd.DataFrame:
    results, cases = _inputs(engine, book, as_of)
    start, end = _month_bounds(month)
    year_start = pd.Timestamp(f"{month[:4]}-01-01")
    frame = pd.DataFrame(_rows(results, cases, catalogue, month, "month", start, end)
                         + _rows(results, cases, catalogue, f"{month[:4]}-01..{month}", "year_to_date",
                                 year_start, end))
    plans = results[(results["clock"] == "final_plan") & (results["stop_reason"] == "event")
                    & (results["stopped"] >= year_start) & (results["stopped"] <= end)]
    if len(plans) >= 10 and plans["exception"].notna().mean() > IMPLAUSIBLE_EXCEPTION_SHARE:
        warnings.warn(f"{plans['exception'].notna().mean():.0%} of the final plans issued in {month[:4]} to "
                      f"{month} have an exception recorded: implausibly high (the DfE suppressed councils "
                      "that classed every plan as an exception)", UserWarning, stacklevel=2)
    return frame


def tracker(engine, book, year: int, as_of: dt.date) -> pd.DataFrame:
    results, cases = _inputs(engine, book, as_of)
    catalogue = {c["id"]: c for c in load_catalogue()}
    last = min(12, as_of.month) if as_of.year == year else 12
    rows = []
    for m in range(1, last + 1):
        start, end = _month_bounds(f"{year}-{m:02d}")
        agreed, _ = _measure(results, cases, catalogue["requests_agreed"], start, end)
        within, issued = _measure(results, cases, catalogue["plans_within_20_weeks"], start, end)
        rows.append({"month": start, "requests_agreed": int(agreed), "plans_issued": int(issued),
                     "issued_within_20_weeks": int(within)})
    frame = pd.DataFrame(rows, columns=["month", "requests_agreed", "plans_issued", "issued_within_20_weeks"])
    frame["pct_within_20_weeks"] = _percent(frame["issued_within_20_weeks"], frame["plans_issued"])
    frame["plans_issued_cumulative"] = frame["plans_issued"].cumsum()
    total = {"month": "total", "requests_agreed": frame["requests_agreed"].sum(),
             "plans_issued": frame["plans_issued"].sum(), "issued_within_20_weeks": frame["issued_within_20_weeks"].sum()}
    total["pct_within_20_weeks"] = (round(100 * total["issued_within_20_weeks"] / total["plans_issued"], 1)
                                    if total["plans_issued"] else np.nan)
    total["plans_issued_cumulative"] = total["plans_issued"]
    frame["month"] = frame["month"].dt.strftime("%Y-%m")
    return pd.concat([frame, pd.DataFrame([total])], ignore_index=True)


def _percent(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    with np.errstate(divide="ignore", invalid="ignore"):
        return (100 * numerator / denominator.where(denominator > 0)).round(1)
