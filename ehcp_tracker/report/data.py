"""Everything the board pack shows, gathered in one place: the adapter between the KPI library and
the renderers (``html.py``, ``xlsx.py``).

The renderers read only ``PackData``; they never ask where a number came from. The KPI figures come
from the KPI library through three calls, all in ``_KpiSource`` below (the only code that knows the
library's API): ``load_catalogue()``, ``compute_kpis(engine, book, catalogue, month=, as_of=)`` and
``tracker(engine, book, year, as_of)``. Ageing, the backlog and the rule book come from
``listings`` directly.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import inspect
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import __version__

from ..clocks.engine import OPEN_STATUSES
from ..clocks.rules import RuleBook
from ..errors import EhcpError
from ..listings import REVIEW_BANDS, Filters, backlog, clock_results, months_overdue, review_backlog
from ..store import db

# How each KPI is presented: title, unit ("percent" or "count"), and which way is better
# (+1 higher, -1 lower, 0 neither). A KPI the library adds that is not listed here is shown by its id.
PRESENTATION: dict[str, tuple[str, str, int]] = {
    "plans_within_20_weeks": ("Final plans issued within 20 weeks (incl. exceptions)", "percent", 1),
    "plans_within_20_weeks_excl_exceptions": ("Final plans issued within 20 weeks (excl. exceptions)", "percent", 1),
    "decisions_within_6_weeks": ("Decisions whether to assess within 6 weeks", "percent", 1),
    "advice_within_6_weeks_ep": ("EP advice within 6 weeks", "percent", 1),
    "advice_within_6_weeks_health": ("Health advice within 6 weeks", "percent", 1),
    "advice_within_6_weeks_social_care": ("Social care advice within 6 weeks", "percent", 1),
    "advice_within_6_weeks_education": ("Education advice within 6 weeks", "percent", 1),
    "no_plan_within_16_weeks": ("Decisions not to issue within 16 weeks", "percent", 1),
    "reviews_on_time": ("Annual reviews concluded within 12 months", "percent", 1),
    "review_decisions_within_4_weeks": ("Review decisions within 4 weeks of the meeting", "percent", 1),
    "amendments_within_8_weeks": ("Amended plans issued within 8 weeks of the notice", "percent", 1),
    "plans_issued": ("Final plans issued", "count", 0),
    "requests_agreed": ("Requests agreed for assessment", "count", 0),
    "open_assessments": ("Open assessments at month end", "count", 0),
    "open_assessments_over_20_weeks": ("Open assessments past 20 weeks at month end", "count", -1),
    "open_reviews_overdue": ("Annual reviews overdue at month end", "count", -1),
}
# RAG: Green on or better than target; Amber within this many percentage points (or, for a count,
# this share of the target) on the wrong side; Red beyond.
AMBER_POINTS = 5.0
AMBER_COUNT_SHARE = 0.10
TREND_MONTHS = 12
HTML_BACKLOG_LIMIT = 500  # the HTML lists the oldest; the XLSX lists every case

ASSESSMENT_AGE_BANDS = ((0, "under 6 weeks"), (6, "6-12 weeks"), (12, "12-16 weeks"), (16, "16-20 weeks"),
                        (20, "20-26 weeks"), (26, "26-52 weeks"), (52, "52 weeks and over"))
NOT_YET_DUE = "not yet due"
BACKLOG_COLUMNS = ["case_id", "kind", "team", "clock", "due", "weeks_overdue", "band", "exception"]


@dataclass
class PackData:
    month: str                      # "YYYY-MM"
    as_of: dt.date
    kpi_source: str
    headline: pd.DataFrame          # one row a KPI: this month, year to date, last month, target, direction, RAG
    trend: pd.DataFrame             # kpi, title, unit, month, value, target: TREND_MONTHS months to `month`
    tracker: pd.DataFrame           # the KPI library's monthly tracker, as it comes
    ageing_assessments: pd.DataFrame
    ageing_reviews: pd.DataFrame
    backlog: pd.DataFrame           # IDs only: no names, no caseworkers, no person IDs
    notes: list[str] = field(default_factory=list)
    rule_fingerprint: str = ""
    rule_files: list[str] = field(default_factory=list)
    version: str = __version__

    @property
    def month_label(self) -> str:
        return pd.Timestamp(f"{self.month}-01").strftime("%B %Y")


class _KpiSource:
    """The KPI library behind the pack (``ehcp_tracker.measures.kpi``); tests may pass another module."""

    def __init__(self, module=None, book: RuleBook | None = None):
        module = module or importlib.import_module("ehcp_tracker.measures.kpi")
        self.module = module
        self.name = getattr(module, "SOURCE", "KPI library (ehcp_tracker/measures/kpi.py, rules/kpi/catalogue.toml)")
        self.catalogue = module.load_catalogue(book=book) if book is not None else module.load_catalogue()

    def month(self, engine: Engine, book: RuleBook, month: str, as_of: dt.date) -> pd.DataFrame:
        return self.module.compute_kpis(engine, book, self.catalogue, month=month, as_of=as_of)

    def months(self, engine: Engine, book: RuleBook, months: list[str], as_of: dt.date) -> dict[str, pd.DataFrame]:
        """Each month's KPIs, as :meth:`month` gives them; from one evaluation of the caseload when the
        library takes a list of months (the trends used to cost a whole evaluation a month)."""
        if "months" not in inspect.signature(self.module.compute_kpis).parameters:
            return {m: self.month(engine, book, m, as_of) for m in months}
        every = self.module.compute_kpis(engine, book, self.catalogue, months=months, as_of=as_of)
        out = {}
        for m in months:
            frame = every[every["period"] == m].reset_index(drop=True)
            frame.attrs = dict(every.attrs)
            out[m] = frame
        return out

    def tracker(self, engine: Engine, book: RuleBook, year: int, as_of: dt.date) -> pd.DataFrame:
        return self.module.tracker(engine, book, year, as_of)


def kpi_source(module=None, book: RuleBook | None = None) -> _KpiSource:
    return _KpiSource(module, book)


def months_back(month: str, count: int) -> list[str]:
    """``count`` months ending with ``month``, oldest first: months_back("2026-02", 3) -> Dec, Jan, Feb."""
    end = pd.Period(month, freq="M")
    return [str(end - i) for i in range(count - 1, -1, -1)]


def check_month(month: str, as_of: dt.date) -> str:
    try:
        period = pd.Period(dt.datetime.strptime(month, "%Y-%m"), freq="M")
    except ValueError:
        raise EhcpError(f"--month: {month!r} is not a month in the form YYYY-MM") from None
    if period.start_time.date() > as_of:
        raise EhcpError(f"--month {month} starts after the as-of date {as_of}: nothing has happened in it yet")
    return str(period)


def gather(engine: Engine, book: RuleBook, month: str, as_of: dt.date, source: _KpiSource | None = None) -> PackData:
    """Everything the pack for ``month`` shows, judged as of ``as_of``."""
    month = check_month(month, as_of)
    source = source or kpi_source(book=book)
    notes: list[str] = []
    frames, library_warnings = [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for m, frame in source.months(engine, book, months_back(month, TREND_MONTHS), as_of).items():
            frame = frame.copy()
            library_warnings += [w for w in frame.attrs.get("warnings", []) if w not in library_warnings]
            frame["period"] = frame["period"].astype(object)
            frame.loc[frame["basis"] == "month", "period"] = m  # we asked for month m, however the library writes it
            frames.append(frame if m == month else frame[frame["basis"] == "month"])
        tracker = source.tracker(engine, book, int(month[:4]), as_of)
    for text in [f"KPI library: {w.message}" for w in caught] + [f"KPI library: {w}" for w in library_warnings]:
        if text not in notes:
            notes.append(text)
    kpis = with_counts_as_values(pd.concat(frames, ignore_index=True))
    trend = _trend(kpis, month)
    headline = _headline(kpis, trend, month)
    results = clock_results(engine, book, as_of)
    pending = _backlog(engine, book, as_of, results)
    notes = _data_quality(engine, source, trend, pending, as_of) + notes
    rules_root = _common_root(book)
    return PackData(
        month=month, as_of=as_of, kpi_source=source.name, headline=headline, trend=trend, tracker=tracker,
        ageing_assessments=_ageing_assessments(results, as_of), ageing_reviews=_ageing_reviews(results, as_of),
        backlog=pending, notes=notes, rule_fingerprint=book.fingerprint,
        rule_files=[str(p.relative_to(rules_root)) if rules_root else str(p) for p in book.files])


def presentation(kpi: str, rows: pd.DataFrame | None = None) -> tuple[str, str, int]:
    """(title, unit, better direction) of a KPI: the pack's own wording where it has one, else the
    catalogue's title and type (a ratio is a percentage, higher is better)."""
    if kpi in PRESENTATION:
        return PRESENTATION[kpi]
    known = _catalogue_kpis().get(kpi)
    if known is not None:
        if known.type == "ratio":
            return known.title, "percent", 1
        # a count has no better direction, except the open (backlog) snapshots: fewer is better
        return known.title, "count", -1 if kpi.startswith("open_") else 0
    unit = "percent" if rows is not None and rows["denominator"].notna().any() else "count"
    return kpi, unit, 1


@functools.lru_cache(maxsize=1)
def _catalogue_kpis() -> dict:
    from ..measures.catalogue import load_catalogue

    return {k.id: k for k in load_catalogue().kpis}


def _trend(kpis: pd.DataFrame, month: str) -> pd.DataFrame:
    monthly = kpis[kpis["basis"] == "month"].copy()
    months = months_back(month, TREND_MONTHS)
    order = list(dict.fromkeys(monthly["kpi"]))
    rows = []
    for kpi in order:
        title, unit, _ = presentation(kpi, monthly[monthly["kpi"] == kpi])
        by_month = monthly[monthly["kpi"] == kpi].drop_duplicates("period", keep="last").set_index("period")
        for m in months:
            got = by_month.loc[m] if m in by_month.index else None
            rows.append({"kpi": kpi, "title": title, "unit": unit, "month": m,
                         "numerator": _num(got, "numerator"), "denominator": _num(got, "denominator"),
                         "value": _num(got, "value"), "target": _num(got, "target")})
    return pd.DataFrame(rows, columns=["kpi", "title", "unit", "month", "numerator", "denominator", "value", "target"])


def with_counts_as_values(kpis: pd.DataFrame) -> pd.DataFrame:
    """A count KPI carries its count in ``numerator`` and no ``value`` (design.md): the pack charts
    and headlines the count itself, so it becomes the value shown."""
    out = kpis.copy()
    count = out["denominator"].isna() & out["value"].isna()
    out["value"] = out["value"].astype(object)
    out.loc[count, "value"] = out.loc[count, "numerator"]
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    return out


def _num(row, name) -> float:
    if row is None or pd.isna(row[name]):
        return math.nan
    return float(row[name])


def rag(value: float, target: float, unit: str, better: int) -> str:
    """"green", "amber", "red", or "none" (no target, no value, or no better direction)."""
    if math.isnan(value) or math.isnan(target) or better == 0:
        return "none"
    gap = (value - target) * better
    if gap >= 0:
        return "green"
    tolerance = AMBER_POINTS if unit == "percent" else AMBER_COUNT_SHARE * abs(target)
    return "amber" if -gap <= tolerance else "red"


def direction(value: float, previous: float, better: int) -> tuple[str, str]:
    """(movement, judgement): ("up", "better"), ("down", "worse"), ("same", ""), ("none", "")."""
    if math.isnan(value) or math.isnan(previous):
        return "none", ""
    change = round(value - previous, 1)
    if change == 0:
        return "same", ""
    movement = "up" if change > 0 else "down"
    if better == 0:
        return movement, ""
    return movement, "better" if change * better > 0 else "worse"


def _headline(kpis: pd.DataFrame, trend: pd.DataFrame, month: str) -> pd.DataFrame:
    previous_month = months_back(month, 2)[0]
    current = kpis[(kpis["period"] == month) & (kpis["basis"] == "month")]
    to_date = kpis[kpis["basis"] == "year_to_date"]
    rows = []
    for kpi in dict.fromkeys(current["kpi"]):
        title, unit, better = presentation(kpi, current[current["kpi"] == kpi])
        now = current[current["kpi"] == kpi].iloc[-1]
        ytd = to_date[to_date["kpi"] == kpi]
        before = trend[(trend["kpi"] == kpi) & (trend["month"] == previous_month)]
        value, target = _num(now, "value"), _num(now, "target")
        previous = float(before["value"].iloc[0]) if len(before) else math.nan
        movement, judgement = direction(value, previous, better)
        rows.append({
            "kpi": kpi, "title": title, "unit": unit, "better": better,
            "numerator": _num(now, "numerator"), "denominator": _num(now, "denominator"), "value": value,
            "target": target, "previous": previous,
            "change": round(value - previous, 1) if not (math.isnan(value) or math.isnan(previous)) else math.nan,
            "movement": movement, "judgement": judgement, "rag": rag(value, target, unit, better),
            "ytd_numerator": _num(ytd.iloc[-1], "numerator") if len(ytd) else math.nan,
            "ytd_denominator": _num(ytd.iloc[-1], "denominator") if len(ytd) else math.nan,
            "ytd_value": _num(ytd.iloc[-1], "value") if len(ytd) else math.nan,
            "ytd_period": str(ytd["period"].iloc[-1]) if len(ytd) else "",
        })
    return pd.DataFrame(rows)


def _band(values: pd.Series, bands) -> pd.Series:
    out = pd.Series(None, index=values.index, dtype=object)
    for low, label in bands:
        out[values >= low] = label
    return out


def _ageing_assessments(results: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Open assessments (final plan clock running) by weeks since the request, as at ``as_of``."""
    open_ = results[(results["clock"] == "final_plan") & results["status"].isin(OPEN_STATUSES)]
    weeks = (pd.Timestamp(as_of) - open_["started"]).dt.days // 7
    band = _band(weeks, ASSESSMENT_AGE_BANDS)
    rows = []
    for low, label in ASSESSMENT_AGE_BANDS:
        chosen = band == label
        rows.append({"band": label, "open_cases": int(chosen.sum()),
                     "with_exception": int(open_.loc[chosen, "exception"].notna().sum()),
                     "past_20_weeks": "yes" if low >= 20 else "no"})
    return pd.DataFrame(rows)


def _ageing_reviews(results: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Annual reviews not yet concluded, by months past their due date, as at ``as_of``."""
    open_ = results[(results["clock"] == "annual_review") & results["status"].isin(OPEN_STATUSES)]
    band = _band(months_overdue(open_["due"], as_of), REVIEW_BANDS)
    band[open_["status"] != "overdue"] = NOT_YET_DUE
    rows = []
    for label in [NOT_YET_DUE, *(label for _, label in REVIEW_BANDS)]:
        chosen = band == label
        rows.append({"band": label if label == NOT_YET_DUE else f"overdue {label}", "open_reviews": int(chosen.sum()),
                     "with_exception": int(open_.loc[chosen, "exception"].notna().sum())})
    return pd.DataFrame(rows)


def _backlog(engine: Engine, book: RuleBook, as_of: dt.date, results: pd.DataFrame) -> pd.DataFrame:
    """The backlog from the pack's own clock results (every case, judged on ``as_of``)."""
    frames = [backlog(engine, book, as_of, Filters(kind="assessments"), results=results).assign(band=None)]
    if book.clocks_for("review"):
        frames.append(review_backlog(engine, book, as_of, Filters(kind="reviews"), results=results))
    frames = [f for f in frames if len(f)]
    if not frames:
        empty = pd.DataFrame(columns=BACKLOG_COLUMNS).astype(object)
        return empty.astype({"due": "datetime64[s]", "weeks_overdue": "int64"})
    rows = pd.concat(frames, ignore_index=True)
    return rows.sort_values(["kind", "due", "case_id"], kind="stable")[BACKLOG_COLUMNS].reset_index(drop=True)


def _data_quality(engine: Engine, source: _KpiSource, trend: pd.DataFrame, pending: pd.DataFrame,
                  as_of: dt.date) -> list[str]:
    notes = []
    with engine.connect() as conn:
        for name, table in db.CASE_TABLES.items():
            missing = conn.execute(sa.select(sa.func.count()).select_from(table)
                                   .where(table.c.missing_since_run_id.is_not(None))).scalar_one()
            if missing:
                notes.append(f"{missing} {name} missing from the latest extract count only in the months before "
                             "they left (events that happened while they were in the extract), and are left out "
                             "of the current backlog (kept in the database: `ehcp clocks --include-missing`).")
        last = conn.execute(sa.select(sa.func.max(db.import_run.c.as_of))
                            .where(db.import_run.c.status != "rejected")).scalar_one()
    if last is None:
        notes.append("No extract has been imported: every figure is blank or zero.")
    elif (as_of - last).days > 7:
        notes.append(f"The latest extract imported is as of {last}, {(as_of - last).days} days before the "
                     f"as-of date {as_of}: recent activity is missing.")
    rates = trend[(trend["unit"] == "percent")]
    for kpi, rows in rates.groupby("kpi", sort=False):
        empty = rows.loc[rows["denominator"].fillna(0) == 0, "month"].tolist()
        if empty and len(empty) < len(rows):
            notes.append(f"{rows['title'].iloc[0]}: nothing to measure in {_month_list(empty)}; shown as a gap, "
                         "not as 0%.")
    if len(pending):
        share = pending["exception"].notna().mean()
        notes.append(f"{len(pending)} cases in the backlog as at {as_of.day} {as_of:%B %Y}, {share:.0%} of them with an "
                     "exception recorded.")
    return notes


def _month_list(months: list[str]) -> str:
    labels = [pd.Timestamp(f"{m}-01").strftime("%b %Y") for m in months]
    return ", ".join(labels[:6]) + (f" and {len(labels) - 6} more months" if len(labels) > 6 else "")


def _common_root(book: RuleBook):
    if not book.files:
        return None
    parents = [p.parent for p in book.files]
    root = parents[0]
    while not all(root == p or root in p.parents for p in parents):
        root = root.parent
    return root.parent


def value_text(value: float, unit: str) -> str:
    """How a KPI value is written: 45.3% / 120 / an en dash when blank."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.1f}%" if unit == "percent" else f"{int(round(value)):,}"


def count_text(value: float) -> str:
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{int(round(value)):,}"
