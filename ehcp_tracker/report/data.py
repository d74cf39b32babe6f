"""Everything the board pack shows, gathered in one place: the adapter between the KPI library and
the renderers (``html.py``, ``xlsx.py``).

The renderers read only ``PackData``; they never ask where a number came from. The KPI figures come
from the KPI library through three calls, all in ``_KpiSource`` below (the only code that knows the
library's API): ``load_catalogue()``, ``compute_kpis(engine, book, catalogue, month=, as_of=)`` and
``tracker(engine, book, year, as_of)``; a library that also offers ``KpiRun``, ``tracker_run``,
``tracker_of`` and ``caseload_parts`` is handed the caseload a slice at a time, in one pass with the
running clocks and the queries (``report/passes.py``: the memory of a slice, not of the caseload).
Ageing, the backlog and the rule book come from ``listings`` directly.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib
import inspect
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .. import __version__

from ..clocks.engine import OPEN_STATUSES
from ..clocks.rules import RuleBook
from ..clocks.slices import case_slices
from ..errors import EhcpError
from ..listings import REVIEW_BANDS, Filters, backlog, clock_results, months_overdue, queries, review_backlog
from ..store import db

# The pack's own shorter wording for some KPIs (the catalogue's title otherwise). Which way is better
# is never set here: it comes only from the catalogue's `better` (issue 16: a rise in plans issued
# after 52 weeks was labelled "better" when a KPI missing from a list here defaulted to "higher").
TITLES: dict[str, str] = {
    "plans_within_20_weeks": "Final plans issued within 20 weeks (incl. exceptions)",
    "plans_within_20_weeks_excl_exceptions": "Final plans issued within 20 weeks (excl. exceptions)",
    "decisions_within_6_weeks": "Decisions whether to assess within 6 weeks",
    "advice_within_6_weeks_ep": "EP advice within 6 weeks",
    "advice_within_6_weeks_health": "Health advice within 6 weeks",
    "advice_within_6_weeks_social_care": "Social care advice within 6 weeks",
    "advice_within_6_weeks_education": "Education advice within 6 weeks",
    "advice_within_6_weeks_ep_excl_exceptions": "EP advice within 6 weeks (excl. exceptions)",
    "advice_within_6_weeks_health_excl_exceptions": "Health advice within 6 weeks (excl. exceptions)",
    "advice_within_6_weeks_social_care_excl_exceptions": "Social care advice within 6 weeks (excl. exceptions)",
    "advice_within_6_weeks_education_excl_exceptions": "Education advice within 6 weeks (excl. exceptions)",
    "no_plan_within_16_weeks": "Decisions not to issue within 16 weeks",
    "reviews_on_time": "Annual reviews concluded within 12 months",
    "review_decisions_within_4_weeks": "Review decisions within 4 weeks of the meeting",
    "amendments_within_8_weeks": "Amended plans issued within 8 weeks of the notice",
    "plans_issued": "Final plans issued",
    "requests_agreed": "Requests agreed for assessment",
    "open_assessments": "Open assessments at month end",
    "open_assessments_over_20_weeks": "Open assessments past 20 weeks at month end",
    "open_reviews_overdue": "Annual reviews overdue at month end",
}
# RAG: Green on or better than target; Amber within this many percentage points (or, for a count,
# this share of the target) on the wrong side; Red beyond.
AMBER_POINTS = 5.0
AMBER_COUNT_SHARE = 0.10
TREND_MONTHS = 12
HTML_BACKLOG_LIMIT = 25  # the HTML lists the longest waiting and counts the rest; the XLSX lists every case
PUBLIC_MINIMUM = 5       # a public pack shows no count from 1 to 4 (nor a rate that would reveal one)
SUPPRESSED = "fewer than 5"
# Beside every target taken from the shipped example trajectory (rules/kpi/targets.toml) until the
# council has its own (rules/local/kpi-targets.toml, `ehcp setup --kpi-targets`): a board must never
# read an example council's trajectory as its own (issue 23).
EXAMPLE_TARGET = "example target, not this council's"

# Open assessments by time since the request. A band's lower bound is exclusive, as in the KPI
# catalogue's ageing bands: a request at exactly day 140 is within its 20 weeks (reg 13(2)), so it
# sits in "over 16, up to 20 weeks", never in a band past the limit (issue 16: the chart said 179
# past 20 weeks while the backlog, rightly, said 178).
ASSESSMENT_AGE_BANDS = ((0, "up to 6 weeks"), (6, "6 to 12 weeks"), (12, "12 to 16 weeks"), (16, "16 to 20 weeks"),
                        (20, "20 to 26 weeks"), (26, "26 to 52 weeks"), (52, "over 52 weeks"))
NOT_YET_DUE = "not yet due"
BACKLOG_COLUMNS = ["case_id", "kind", "team", "clock", "due", "weeks_overdue", "band", "exception"]
KIND_WORDS = {"assessment": "Assessment", "review": "Annual review"}
BASIS_WORDS = {"month": "Month", "year_to_date": "Year to date", "rolling_12_months": "Rolling 12 months",
               "month_last_year": "Same month last year", "year_to_date_last_year": "Year to date, last year",
               "rolling_12_months_last_year": "Rolling 12 months, last year"}
HEADLINE_BASES = ("year_to_date", "rolling_12_months", "month_last_year")


@dataclass(frozen=True)
class PackOptions:
    """What a pack is for: a team's cases only, a public version, commentary and benchmarks."""

    team: str | None = None
    public: bool = False
    commentary: Path | None = None
    benchmark: Path | None = None          # DfE's timeliness_20_week.csv
    council: str | None = None             # the council's LA code (old 340 or new E08000011), for --benchmark
    compare_with: tuple[str, ...] = ()
    kpi_benchmarks: tuple[Path, ...] = ()  # DfE's requests.csv, annual_reviews.csv, phase_transfers.csv


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
    backlog: pd.DataFrame           # IDs only: no names, no caseworkers, no person IDs (none in a public pack)
    notes: list[str] = field(default_factory=list)
    rule_fingerprint: str = ""
    rule_files: list[str] = field(default_factory=list)
    version: str = __version__
    options: PackOptions = field(default_factory=PackOptions)
    backlog_counts: pd.DataFrame | None = None   # the backlog counted by kind of case and clock
    commentary: pd.DataFrame | None = None       # kpi, month, commentary, action, owner: this month's
    needs_commentary: list[str] = field(default_factory=list)  # titles of red KPIs without commentary
    benchmark: pd.DataFrame | None = None        # year, area, role, the DfE measures (benchmark.py)
    kpi_benchmark: pd.DataFrame | None = None    # the other KPIs' benchmarks: KPI_BENCHMARK_COLUMNS
    open_counts: str = ""                        # one sentence reconciling the page's "open" counts
    clock_titles: dict[str, str] = field(default_factory=dict)
    query_counts: pd.DataFrame | None = None     # code, cases, action, listing: the queries by code (data quality)
    example_targets: bool = False                # the targets are the shipped example trajectory (EXAMPLE_TARGET)

    @property
    def month_label(self) -> str:
        return pd.Timestamp(f"{self.month}-01").strftime("%B %Y")

    @property
    def audience(self) -> str:
        """"North team", "public", both, or "" (the whole council)."""
        parts = [f"{self.options.team} team"] if self.options.team else []
        if self.options.public:
            parts.append("public version")
        return ", ".join(parts)


class _KpiSource:
    """The KPI library behind the pack (``ehcp_tracker.measures.kpi``); tests may pass another module."""

    def __init__(self, module=None, book: RuleBook | None = None):
        module = module or importlib.import_module("ehcp_tracker.measures.kpi")
        self.module = module
        self.name = getattr(module, "SOURCE", "the KPI catalogue of the rule book (rules/kpi/catalogue.toml), "
                                              "applied to the clock results")
        self.catalogue = module.load_catalogue(book=book) if book is not None else module.load_catalogue()

    def month(self, engine: Engine, book: RuleBook, month: str, as_of: dt.date, filters: Filters = Filters(),
              bases: tuple[str, ...] | None = None) -> pd.DataFrame:
        extra = {"bases": bases} if bases else {}
        return self.module.compute_kpis(engine, book, self.catalogue, month=month, as_of=as_of, filters=filters,
                                        **extra)

    def caseload(self, engine: Engine, filters: Filters = Filters()) -> dict | None:
        """The cases of ``filters``, read once for every section of the pack (a million cases take
        seconds to read), when the library can read them; None: each section reads its own."""
        reader = getattr(self.module, "load_caseload", None)
        return reader(engine, filters) if reader is not None else None

    def _shared(self, function, caseload) -> dict:
        """``caseload=`` for a library function that takes the cases already read, else nothing."""
        takes = caseload is not None and "caseload" in inspect.signature(function).parameters
        return {"caseload": caseload} if takes else {}

    def months(self, engine: Engine, book: RuleBook, months: list[str], as_of: dt.date, filters: Filters = Filters(),
               bases: tuple[str, ...] | None = None, caseload: dict | None = None) -> dict[str, pd.DataFrame]:
        """Each month's KPIs, as :meth:`month` gives them; from one evaluation of the caseload when the
        library takes a list of months (the trends used to cost a whole evaluation a month)."""
        if "months" not in inspect.signature(self.module.compute_kpis).parameters:
            return {m: self.month(engine, book, m, as_of, filters, bases) for m in months}
        extra = {"bases": bases} if bases else {}
        extra |= self._shared(self.module.compute_kpis, caseload)
        every = self.module.compute_kpis(engine, book, self.catalogue, months=months, as_of=as_of, filters=filters,
                                         **extra)
        return self.split(every, months)

    @staticmethod
    def split(every: pd.DataFrame, months: list[str]) -> dict[str, pd.DataFrame]:
        """One KPI frame of many months as a frame per month, each with the run's ``attrs``."""
        out = {}
        for m in months:
            frame = every[every["period"] == m].reset_index(drop=True)
            frame.attrs = dict(every.attrs)
            out[m] = frame
        return out

    def one_pass(self, engine: Engine, book: RuleBook, months: list[str], year: int, as_of: dt.date,
                 filters: Filters, bases: tuple[str, ...]):
        """The trends' and the tracker's KPIs, the running clocks and the queries from one read of
        the caseload a slice at a time (``report.passes``); None when the library cannot be handed
        parts of a caseload (then :meth:`caseload` is read whole and shared)."""
        module = self.module
        if not all(hasattr(module, name) for name in ("KpiRun", "caseload_parts", "tracker_run", "tracker_of")):
            return None
        from .passes import one_pass

        trend_run = module.KpiRun(engine, book, self.catalogue, months=months, as_of=as_of, bases=bases)
        tracker_run = module.tracker_run(engine, book, year, as_of)
        return one_pass(engine, book, as_of, filters, trend_run, tracker_run, module.caseload_parts(engine, filters))

    def tracker(self, engine: Engine, book: RuleBook, year: int, as_of: dt.date,
                filters: Filters = Filters(), caseload: dict | None = None) -> pd.DataFrame:
        return self.module.tracker(engine, book, year, as_of, filters=filters,
                                   **self._shared(self.module.tracker, caseload))


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


def gather(engine: Engine, book: RuleBook, month: str, as_of: dt.date, source: _KpiSource | None = None,
           options: PackOptions = PackOptions()) -> PackData:
    """Everything the pack for ``month`` shows, judged as of ``as_of``, for ``options`` (a team, a
    public version, commentary, benchmarks)."""
    month = check_month(month, as_of)
    source = source or kpi_source(book=book)
    commentary = read_commentary(options.commentary, {k.id for k in source.catalogue.kpis}) \
        if options.commentary else None
    filters = Filters(team=options.team)
    notes: list[str] = []
    frames, library_warnings = [], []
    trend_months = months_back(month, TREND_MONTHS)
    sections = source.one_pass(engine, book, trend_months, int(month[:4]), as_of, filters, ("month", *HEADLINE_BASES))
    if sections is None:  # a KPI library that cannot be handed parts: the caseload read once and shared
        caseload = source.caseload(engine, filters)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trend = source.months(engine, book, trend_months, as_of, filters, ("month", *HEADLINE_BASES), caseload)
            tracker = source.tracker(engine, book, int(month[:4]), as_of, filters, caseload)
        results = running_clocks(engine, book, as_of, filters, caseload)
        counted = query_counts(engine, book, as_of, filters, caseload)
    else:
        caught = sections.trend_warnings + sections.tracker_warnings
        trend = source.split(sections.trend, trend_months)
        tracker = source.module.tracker_of(sections.tracker_kpis)
        results = sections.running if sections.running is not None else running_clocks(
            engine, book, as_of, filters, None)
        counted = query_counts(engine, book, as_of, filters, found=sections.found)
    for m, frame in trend.items():
        now = m == month
        frame = frame.copy()
        library_warnings += [w for w in frame.attrs.get("warnings", []) if w not in library_warnings]
        frame["period"] = frame["period"].astype(object)
        frame.loc[frame["basis"] == "month", "period"] = m  # we asked for month m, however the library writes it
        frames.append(frame if now else frame[frame["basis"] == "month"])
    for text in [f"KPI figures: {w.message}" for w in caught] + [f"KPI figures: {w}" for w in library_warnings]:
        if text not in notes:
            notes.append(text)
    kpis = with_counts_as_values(pd.concat(frames, ignore_index=True))
    kinds = {k.id: k for k in source.catalogue.kpis}
    trend = _trend(kpis, month, kinds)
    headline = _headline(kpis, trend, month, kinds)
    pending = _backlog(engine, book, as_of, results, filters)
    notes = _data_quality(engine, trend, pending, as_of) + notes
    if (headline.get("complete", pd.Series(dtype=object)) == "no").any() or (trend["complete"] == "no").any():
        notes.append("Figures marked \u201cpartial\u201d are month-end counts of annual reviews from before the first "
                     "extract was imported: the review cycles current then are not all in the database.")
    rules_root = _common_root(book)
    pack = PackData(
        month=month, as_of=as_of, kpi_source=source.name, headline=headline, trend=trend, tracker=tracker,
        ageing_assessments=_ageing_assessments(results, as_of), ageing_reviews=_ageing_reviews(results, as_of),
        backlog=pending, notes=notes, rule_fingerprint=book.fingerprint,
        rule_files=[str(p.relative_to(rules_root)) if rules_root else str(p) for p in book.files],
        options=options, backlog_counts=_backlog_counts(pending, book),
        query_counts=counted,
        clock_titles={c.id: c.family_title or c.title for c in book.clocks})
    pack.open_counts = _open_counts(pack)
    pack.example_targets = bool(getattr(source.catalogue, "targets_example", False))
    if commentary is not None:
        pack.commentary, pack.needs_commentary = _attach_commentary(headline, commentary, month)
    else:
        pack.needs_commentary = headline.loc[headline["rag"] == "red", "title"].tolist()
    if options.benchmark:
        from .benchmark import benchmark_gaps, benchmark_table

        pack.benchmark = benchmark_table(options.benchmark, engine, book, as_of, source, options)
        pack.notes += benchmark_gaps(options.benchmark, options.council)
    if options.kpi_benchmarks:
        from .benchmark import kpi_benchmark_gaps, kpi_benchmark_table

        pack.kpi_benchmark = kpi_benchmark_table(options.kpi_benchmarks, engine, book, as_of, source, options)
        pack.notes += kpi_benchmark_gaps(options.kpi_benchmarks, options.council)
    return publish(pack) if options.public else pack


def presentation(kpi: str, rows: pd.DataFrame | None = None, kinds: dict | None = None) -> tuple[str, str, int]:
    """(title, unit, better direction) of a KPI. The direction is the catalogue's ``better`` and
    nothing else (+1 higher, -1 lower, 0 neither); a KPI the catalogue does not know has none."""
    known = (kinds if kinds is not None else _catalogue_kpis()).get(kpi)
    if known is not None:
        return TITLES.get(kpi, known.title), known.unit, known.direction
    unit = "percent" if rows is not None and rows["denominator"].notna().any() else "count"
    return TITLES.get(kpi, kpi.replace("_", " ").capitalize()), unit, 0


@functools.lru_cache(maxsize=1)
def _catalogue_kpis() -> dict:
    from ..measures.catalogue import load_catalogue

    return {k.id: k for k in load_catalogue().kpis}


def _trend(kpis: pd.DataFrame, month: str, kinds: dict | None = None) -> pd.DataFrame:
    monthly = kpis[kpis["basis"] == "month"].copy()
    months = months_back(month, TREND_MONTHS)
    order = list(dict.fromkeys(monthly["kpi"]))
    rows = []
    for kpi in order:
        title, unit, _ = presentation(kpi, monthly[monthly["kpi"] == kpi], kinds)
        by_month = monthly[monthly["kpi"] == kpi].drop_duplicates("period", keep="last").set_index("period")
        for m in months:
            got = by_month.loc[m] if m in by_month.index else None
            complete = "yes" if got is None or "complete" not in got else got["complete"]
            rows.append({"kpi": kpi, "title": title, "unit": unit, "month": m,
                         "numerator": _num(got, "numerator"), "denominator": _num(got, "denominator"),
                         "value": _num(got, "value"), "target": _num(got, "target"), "complete": complete})
    return pd.DataFrame(rows, columns=["kpi", "title", "unit", "month", "numerator", "denominator", "value", "target",
                                       "complete"])


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
    """"green", "amber", "red"; "no_target" (no target, or no better direction), or "no_data" (a
    target but nothing to measure: issue 16, the pack said "No target" there)."""
    if math.isnan(target) or better == 0:
        return "no_target"
    if math.isnan(value):
        return "no_data"
    gap = (value - target) * better
    if gap >= 0:
        return "green"
    tolerance = AMBER_POINTS if unit == "percent" else AMBER_COUNT_SHARE * abs(target)
    return "amber" if -gap <= tolerance else "red"


def direction(value: float, previous: float, better: int) -> tuple[str, str]:
    """(movement, judgement): ("up", "better"), ("down", "worse"), ("same", ""), ("none", "").
    ``better`` is the catalogue's polarity; a KPI that is neither better nor worse gets no judgement."""
    if math.isnan(value) or math.isnan(previous):
        return "none", ""
    change = round(value - previous, 1)
    if change == 0:
        return "same", ""
    movement = "up" if change > 0 else "down"
    if better == 0:
        return movement, ""
    return movement, "better" if change * better > 0 else "worse"


def _headline(kpis: pd.DataFrame, trend: pd.DataFrame, month: str, kinds: dict | None = None) -> pd.DataFrame:
    previous_month = months_back(month, 2)[0]
    current = kpis[(kpis["period"] == month) & (kpis["basis"] == "month")]
    rows = []
    for kpi in dict.fromkeys(current["kpi"]):
        title, unit, better = presentation(kpi, current[current["kpi"] == kpi], kinds)
        now = current[current["kpi"] == kpi].iloc[-1]
        before = trend[(trend["kpi"] == kpi) & (trend["month"] == previous_month)]
        value, target = _num(now, "value"), _num(now, "target")
        previous = float(before["value"].iloc[0]) if len(before) else math.nan
        movement, judgement = direction(value, previous, better)
        row = {
            "kpi": kpi, "title": title, "unit": unit, "better": better,
            "numerator": _num(now, "numerator"), "denominator": _num(now, "denominator"), "value": value,
            "target": target, "previous": previous,
            "change": round(value - previous, 1) if not (math.isnan(value) or math.isnan(previous)) else math.nan,
            "movement": movement, "judgement": judgement, "rag": rag(value, target, unit, better),
            "complete": now["complete"] if "complete" in now else "yes",
        }
        for basis, prefix in (("year_to_date", "ytd"), ("rolling_12_months", "rolling"), ("month_last_year", "last_year")):
            other = kpis[(kpis["kpi"] == kpi) & (kpis["basis"] == basis) & (kpis["period"] == month)]
            got = other.iloc[-1] if len(other) else None
            for name in ("numerator", "denominator", "value"):
                row[f"{prefix}_{name}"] = _num(got, name)
            row[f"{prefix}_period"] = _period_words(got, basis)
        rows.append(row)
    return pd.DataFrame(rows)


def _period_words(row, basis: str) -> str:
    """"Jan – Oct 2026" for a window of months, from the library's period_start and period_end."""
    if row is None or "period_start" not in row or pd.isna(row["period_start"]):
        return ""
    start, end = pd.Timestamp(row["period_start"]), pd.Timestamp(row["period_end"])
    if basis.startswith("month"):
        return f"{end:%b %Y}"
    return f"{start:%b} – {end:%b %Y}" if start.year == end.year else f"{start:%b %Y} – {end:%b %Y}"


def running_clocks(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters,
                   caseload: dict | None, slice_size: int | None = None) -> pd.DataFrame:
    """The clocks still running on ``as_of`` (open, due soon or overdue), as :func:`clock_results`
    orders them: ageing and the backlog read no others. Worked out a slice of the caseload at a
    time and the stopped clocks let go, so a national caseload's seven million results (most of
    them met or late long ago) never sit in memory together."""
    if caseload is None:
        results = clock_results(engine, book, as_of, filters)
        return results[results["status"].isin(OPEN_STATUSES)].reset_index(drop=True)
    frames = []
    for part in case_slices(caseload, slice_size):
        # every kind named, an empty one too: clock_results reads a kind it is not given
        whole = {case: part[case] if case in part else cases.iloc[:0] for case, cases in caseload.items()}
        results = clock_results(engine, book, as_of, filters, caseload=whole)
        frames.append(results[results["status"].isin(OPEN_STATUSES)])
    kept = [f for f in frames if len(f)] or frames[:1]  # an empty part's columns may be typed otherwise
    results = pd.concat(kept, ignore_index=True) if len(kept) > 1 else kept[0]
    return results.sort_values(["due", "case_id", "clock"], kind="stable").reset_index(drop=True)


def _band(values: pd.Series, bands) -> pd.Series:
    out = pd.Series(None, index=values.index, dtype=object)
    for low, label in bands:
        out[values >= low] = label
    return out


def _ageing_assessments(results: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Open assessments (final plan clock running) by time since the request, as at ``as_of``.
    Bands by days with the lower bound exclusive (over 20 weeks = day 141 on), so the bars past 20
    weeks hold exactly the assessments in the backlog."""
    open_ = results[(results["clock"] == "final_plan") & results["status"].isin(OPEN_STATUSES)]
    days = (pd.Timestamp(as_of) - open_["started"]).dt.days
    band = pd.Series(ASSESSMENT_AGE_BANDS[0][1], index=open_.index, dtype=object)
    for low, label in ASSESSMENT_AGE_BANDS[1:]:
        band[days > 7 * low] = label
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


def _backlog(engine: Engine, book: RuleBook, as_of: dt.date, results: pd.DataFrame,
             filters: Filters = Filters()) -> pd.DataFrame:
    """The backlog from the pack's own clock results (every case of ``filters``, judged on ``as_of``)."""
    frames = [backlog(engine, book, as_of, replace(filters, kind="assessments"), results=results).assign(band=None)]
    if book.clocks_for("review"):
        frames.append(review_backlog(engine, book, as_of, replace(filters, kind="reviews"), results=results))
    frames = [f for f in frames if len(f)]
    if not frames:
        empty = pd.DataFrame(columns=BACKLOG_COLUMNS).astype(object)
        return empty.astype({"due": "datetime64[s]", "weeks_overdue": "int64"})
    rows = pd.concat(frames, ignore_index=True)
    return rows.sort_values(["kind", "due", "case_id"], kind="stable")[BACKLOG_COLUMNS].reset_index(drop=True)


def _backlog_counts(pending: pd.DataFrame, book: RuleBook) -> pd.DataFrame:
    """The backlog counted by kind of case and clock, in words: what the HTML shows instead of a
    list of every ID (the XLSX lists them)."""
    titles = {c.id: c.family_title or c.title for c in book.clocks}
    rows = []
    for (kind, clock), part in pending.groupby(["kind", "clock"], sort=True):
        rows.append({"kind": KIND_WORDS.get(kind, kind), "clock": titles.get(clock, clock), "cases": len(part),
                     "with_exception": int(part["exception"].notna().sum()),
                     "longest_weeks_overdue": int(part["weeks_overdue"].max())})
    return pd.DataFrame(rows, columns=["kind", "clock", "cases", "with_exception", "longest_weeks_overdue"])


QUERY_COUNT_COLUMNS = ["code", "cases", "action", "listing"]
QUERY_INTRO = ("A query is a finding the law or the data makes doubtful but that is not a late clock (a "
               "maintain decision on a phase-transfer review, a stored exemption that is not applied, ...): none "
               "is a breach, each says what to do. List them with \u201cehcp queries --code CODE\u201d.")


def query_counts(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters = Filters(),
                 caseload: dict | None = None, found: pd.DataFrame | None = None) -> pd.DataFrame:
    """The caseload's queries (``listings.queries``) counted by code, with what to do and the command
    that lists them: the data-quality section's count, never the cases themselves. ``found``: the
    queries already found (``report.passes``, a slice at a time)."""
    if found is None:
        found = queries(engine, book, as_of, filters, caseload=caseload)
    rows = [{"code": code, "cases": len(part), "action": part["action"].iloc[0],
             "listing": f"ehcp queries --code {code}"} for code, part in found.groupby("code", sort=True)]
    return pd.DataFrame(rows, columns=QUERY_COUNT_COLUMNS)


def _open_counts(pack: PackData) -> str:
    """One sentence tying together the page's three "open" counts (issue 16), with their numbers."""
    h = pack.headline.set_index("kpi") if len(pack.headline) else pd.DataFrame()
    month_end = min(pd.Period(pack.month, freq="M").end_time.date(), pack.as_of)
    past = int(pack.ageing_assessments.loc[pack.ageing_assessments["past_20_weeks"] == "yes", "open_cases"].sum())
    running = int(pack.ageing_assessments["open_cases"].sum())
    in_backlog = int((pack.backlog["kind"] == "assessment").sum())
    parts = []
    if "open_assessments" in h.index and not math.isnan(h.loc["open_assessments", "value"]):
        parts.append(f"the headline counts {count_text(h.loc['open_assessments', 'value'])} assessments open at "
                     f"the end of the month ({month_end.day} {month_end:%B %Y})")
    parts.append(f"the ageing chart counts the {running:,} open on {pack.as_of.day} {pack.as_of:%B %Y}, "
                 f"{past:,} of them past their 20 weeks")
    parts.append(f"the backlog lists those {in_backlog:,} assessments, with the overdue annual reviews and "
                 "phase-transfer reviews at risk")
    return "Three views of open cases: " + "; ".join(parts) + ". A plan due on day 140 is on time on day 140."


def _data_quality(engine: Engine, trend: pd.DataFrame, pending: pd.DataFrame, as_of: dt.date) -> list[str]:
    notes = []
    with engine.connect() as conn:
        for name, table in db.CASE_TABLES.items():
            missing = conn.execute(sa.select(sa.func.count()).select_from(table)
                                   .where(table.c.missing_since_run_id.is_not(None))).scalar_one()
            if missing:
                notes.append(f"{missing} {name} missing from the latest extract count only in the months before "
                             "they left (events that happened while they were in the extract), and are left out "
                             "of the current backlog (they are kept in the database).")
        last = conn.execute(sa.select(sa.func.max(db.import_run.c.as_of))
                            .where(db.import_run.c.status != "rejected")).scalar_one()
    if last is None:
        notes.append("No extract has been imported: every figure is blank or zero.")
    elif (as_of - last).days > 7:
        notes.append(f"The latest extract imported is as of {last:%d %B %Y}, {(as_of - last).days} days before "
                     f"these figures' date, {as_of:%d %B %Y}: recent activity is missing.")
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


# --------------------------------------------------------------------------- commentary

COMMENTARY_COLUMNS = ("kpi", "month", "commentary", "action", "owner")


def read_csv_rows(path: Path, option: str) -> list[list[str]]:
    """A small CSV a user gives an option (UTF-8 with or without BOM, or Windows-1252, as every
    extract), as rows of text; unreadable is one line naming the option and the file."""
    import csv
    import io

    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EhcpError(f"{option} {path}: cannot read the file ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise EhcpError(f"{option} {path}: not a CSV file ({exc})") from None


def read_commentary(path: Path, known: set[str]) -> pd.DataFrame:
    """The commentary file (CSV: kpi, month, commentary, action, owner; headers in any case), checked:
    a bad file is one line naming the file, row and column (exit 1), never a traceback."""
    path = Path(path)
    reader = iter(read_csv_rows(path, "--commentary"))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in COMMENTARY_COLUMNS if c not in header]
    if missing:
        raise EhcpError(f"--commentary {path}: row 1: missing column(s) {', '.join(missing)} "
                        f"(needs {', '.join(COMMENTARY_COLUMNS)})")
    rows = []
    for number, record in enumerate(reader, start=2):
        if not any(cell.strip() for cell in record):
            continue
        row = {c: (record[header.index(c)].strip() if header.index(c) < len(record) else "") for c in COMMENTARY_COLUMNS}
        if row["kpi"] not in known:
            raise EhcpError(f"--commentary {path}: row {number}, column kpi: no KPI {row['kpi']!r} "
                            "(see `ehcp kpi --list`)")
        try:
            row["month"] = f"{dt.datetime.strptime(row['month'], '%Y-%m'):%Y-%m}"
        except ValueError:
            raise EhcpError(f"--commentary {path}: row {number}, column month: {row['month']!r} is not a month "
                            "in the form YYYY-MM") from None
        if not row["commentary"]:
            raise EhcpError(f"--commentary {path}: row {number}, column commentary: blank")
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COMMENTARY_COLUMNS))


def _attach_commentary(headline: pd.DataFrame, commentary: pd.DataFrame, month: str):
    """This month's commentary (for any KPI in the pack), and the red KPIs that have none."""
    this_month = commentary[commentary["month"] == month].drop_duplicates("kpi", keep="last")
    red = headline[headline["rag"] == "red"]
    given = this_month[this_month["kpi"].isin(headline["kpi"])]
    needs = red.loc[~red["kpi"].isin(given["kpi"]), "title"].tolist()
    return given.reset_index(drop=True), needs


# --------------------------------------------------------------------------- the public version

def _small(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not math.isnan(value) and 0 < value < PUBLIC_MINIMUM


def _suppress_rate(numerator, denominator) -> bool:
    """A rate reveals a small count when its numerator, denominator or the difference is 1 to 4."""
    if any(isinstance(v, str) for v in (numerator, denominator)):
        return True
    if math.isnan(denominator):
        return _small(numerator)
    return _small(numerator) or _small(denominator) or _small(denominator - numerator)


def _hide(unit: str, numerator, denominator) -> bool:
    if unit == "count":
        return _small(numerator)
    return _suppress_rate(numerator, denominator)


def publish(pack: PackData) -> PackData:
    """The public version: no case IDs at all, and every count from 1 to 4 (and any rate or
    average that would reveal one) written as "fewer than 5"."""
    from dataclasses import replace as copy

    trend = pack.trend.astype(object).copy()
    for i, r in trend.iterrows():
        if _hide(r["unit"], r["numerator"], r["denominator"]):
            for name in ("numerator", "denominator", "value"):
                trend.at[i, name] = SUPPRESSED
    previous_month = months_back(pack.month, 2)[0]
    hidden_before = set(trend.loc[(trend["month"] == previous_month) & (trend["value"] == SUPPRESSED), "kpi"])
    headline = pack.headline.astype(object).copy()
    for i, r in headline.iterrows():
        for prefix in ("", "ytd_", "rolling_", "last_year_"):
            if _hide(r["unit"], r[f"{prefix}numerator"], r[f"{prefix}denominator"]):
                for name in ("numerator", "denominator", "value"):
                    headline.at[i, f"{prefix}{name}"] = SUPPRESSED
        if r["kpi"] in hidden_before:
            headline.at[i, "previous"] = SUPPRESSED
        if SUPPRESSED in (headline.at[i, "value"], headline.at[i, "previous"]):
            headline.at[i, "movement"], headline.at[i, "judgement"], headline.at[i, "change"] = "none", "", math.nan
    tracker = pack.tracker.astype(object).copy()
    for column in tracker.columns:
        if column != "month" and not column.startswith("pct"):
            tracker[column] = [SUPPRESSED if _small(v) else v for v in tracker[column]]
    for i, r in tracker.iterrows():
        if any(v == SUPPRESSED for v in r.values):
            tracker.at[i, "pct_within_20_weeks"] = SUPPRESSED
    ageing_a = pack.ageing_assessments.astype(object).copy()
    ageing_r = pack.ageing_reviews.astype(object).copy()
    for frame in (ageing_a, ageing_r):
        for column in frame.columns:
            if column not in ("band", "past_20_weeks"):
                frame[column] = [SUPPRESSED if _small(v) else v for v in frame[column]]
    counts = pack.backlog_counts.astype(object).copy() if pack.backlog_counts is not None else None
    if counts is not None:
        for column in ("cases", "with_exception"):
            counts[column] = [SUPPRESSED if _small(v) else v for v in counts[column]]
    queried = pack.query_counts.astype(object).copy() if pack.query_counts is not None else None
    if queried is not None:
        queried["cases"] = [SUPPRESSED if _small(v) else v for v in queried["cases"]]
    kpi_benchmark = pack.kpi_benchmark.astype(object).copy() if pack.kpi_benchmark is not None else None
    if kpi_benchmark is not None:  # the tracker's own rows: a small count, or a rate revealing one
        for i, r in kpi_benchmark[kpi_benchmark["role"] == "council"].iterrows():
            if _small(r["value"]) if r["unit"] == "count" else _suppress_rate(r["numerator"], r["denominator"]):
                kpi_benchmark.at[i, "value"] = SUPPRESSED
    notes = [n for n in pack.notes if "cases in the backlog" not in n and "missing from the latest extract" not in n]
    notes.append("Public version: counts from 1 to 4, and rates that would reveal them, are shown as "
                 f"\u201c{SUPPRESSED}\u201d; no case is listed.")
    return copy(pack, headline=headline, trend=trend, tracker=tracker, ageing_assessments=ageing_a,
                ageing_reviews=ageing_r, backlog=pack.backlog.iloc[0:0], backlog_counts=counts, notes=notes,
                query_counts=queried, kpi_benchmark=kpi_benchmark,
                commentary=pack.commentary, open_counts="")


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
    """How a KPI value is written: 45.3% / 20.4 weeks / 2.5 / 120 / an en dash when blank."""
    if isinstance(value, str):  # "fewer than 5" in a public pack
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == "percent":
        return f"{value:.1f}%"
    if unit == "weeks":
        return f"{value:.1f} weeks"
    if unit == "number":
        return f"{value:g}"
    return f"{int(round(value)):,}"


def count_text(value: float) -> str:
    if isinstance(value, str):
        return value
    return "–" if value is None or (isinstance(value, float) and np.isnan(value)) else f"{int(round(value)):,}"
