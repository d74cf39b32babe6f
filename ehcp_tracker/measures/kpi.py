"""KPIs: every measure a team lead reports, to the DfE's definitions, from the clock results.

The KPI definitions are data (``rules/kpi/catalogue.toml``, see ``catalogue.py``); this module
applies them. The core, :func:`kpi_table`, is a pure function over clock results (the frame
``engine.evaluate`` returns) and needs no database: each KPI is a few numpy masks and one
``bincount`` by month over the results of its clock, so a year of KPIs over a national caseload is
one vectorised pass. :func:`compute_kpis` and :func:`tracker` are the library entry points over a
database (the CLI and the board pack call them); they read, evaluate and count a slice of cases at
a time (``measures/parts.py`` from the database, ``clocks/slices.py`` for a caseload handed in;
:class:`KpiRun`, :class:`KpiTally`), so memory is bounded by the slice, not the caseload.

Periods. Every KPI is reported per month, on two bases: ``month`` (events dated in the month) and
``year_to_date`` (events from the start of the reporting year to the month's end; the year starts
in January by default, April or September by configuration). A period never runs past the as-of
date: the month containing it is "month to date", and months starting after it are not reported.

Which results are counted. Clock results are judged once, as of the run's as-of date (so a month's
figures are the same whether asked for alone or as part of its year); an event's date puts it in a
period. Snapshot KPIs (open assessments, overdue reviews) are instead the clocks as they stood at
each period's end (or the as-of date, if earlier), when only what had happened by then counted:
judged from the same one evaluation by interval tests over their start, due and stop dates
(``clocks/history.py``), not by running the engine again per month.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import replace

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..clocks.engine import OUTCOME_COLUMNS, STOP_COLUMNS, empty_result, evaluate
from ..clocks.dates import NAT
from ..clocks.history import History
from ..clocks.slices import case_slices
from ..clocks.rules import RuleBook
from ..errors import EhcpError
from ..listings import Filters, load_filtered, resolve_filters
from ..schema import BY_CASE as KINDS_BY_CASE, KINDS
from ..store import db
from .catalogue import Catalogue, Filter, Kpi, load_catalogue
from .parts import caseload_parts, check_cohort, with_missing_since

KPI_COLUMNS = ["kpi", "period", "basis", "numerator", "denominator", "value", "target", "complete"]
EXTRA_KPI_COLUMNS = ["period_start", "period_end", "title"]
BASES = ("month", "year_to_date")  # the default bases of `ehcp kpi`
LAST_YEAR = "_last_year"
# Every basis a KPI can be reported on: the month, the reporting year to date, the rolling 12 months
# to the month's end, and each of them for the same period a year earlier (issue 16).
ALL_BASES = ("month", "year_to_date", "rolling_12_months",
             "month_last_year", "year_to_date_last_year", "rolling_12_months_last_year")
TRACKER_COLUMNS = ["month", "requests_agreed", "plans_issued", "issued_within_20_weeks",
                   "pct_within_20_weeks", "plans_issued_cumulative"]
TRACKER_KPIS = ("requests_agreed", "plans_issued", "plans_within_20_weeks")

_EPOCH_YEAR = 1970


# --------------------------------------------------------------------------- periods

def month_index(year: int, month: int) -> int:
    """Months since January 1970 (numpy's ``datetime64[M]`` integer)."""
    return (year - _EPOCH_YEAR) * 12 + month - 1


def month_of(index: int) -> tuple[int, int]:
    return _EPOCH_YEAR + index // 12, index % 12 + 1


def month_start(index: int) -> dt.date:
    year, month = month_of(index)
    return dt.date(year, month, 1)


def month_end(index: int) -> dt.date:
    year, month = month_of(index)
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def year_start_of(index: int, year_start: int) -> int:
    """The first month of the reporting year containing month ``index``."""
    return index - (index % 12 + 1 - year_start) % 12


def parse_month(text: str) -> int:
    """``"2026-03"`` -> month index; a user error otherwise."""
    try:
        year, month = (int(part) for part in text.split("-"))
        dt.date(year, month, 1)
    except ValueError:
        raise EhcpError(f"--month: {text!r} is not a month in the form YYYY-MM") from None
    return month_index(year, month)


def months_for(*, as_of: dt.date, month: str | int | None = None, year: int | None = None,
               year_start: int = 1) -> list[int]:
    """The months a run reports: one month, or every month of the reporting year starting in ``year``
    (January to December by default) up to the as-of date, or (neither given) the as-of month."""
    if month is not None and year is not None:
        raise EhcpError("give --month or --year, not both")
    last = month_index(as_of.year, as_of.month)
    if year is not None:
        first = month_index(year, year_start)
        months = [m for m in range(first, first + 12) if m <= last]
        if not months:
            raise EhcpError(f"--year {year}: the reporting year starts {month_start(first):%B %Y}, "
                            f"after the as-of date {as_of.isoformat()}")
        return months
    chosen = last if month is None else (parse_month(month) if isinstance(month, str) else int(month))
    if chosen > last:
        raise EhcpError(f"--month {month_start(chosen):%Y-%m} is after the as-of date {as_of.isoformat()}")
    return [chosen]


# --------------------------------------------------------------------------- the pure core

class _Frame:
    """Column access for one clock-result frame, converted once and cached, so thirty KPIs over
    millions of results cost a few passes: string columns as factorised codes (a filter is then a
    lookup in a small boolean table), dates as ``datetime64[D]``, and each date column's month bin
    (0 = before the first month, then one bin a month, then "after") worked out once per run."""

    def __init__(self, frame: pd.DataFrame, lo: int, hi: int):
        self.frame = frame
        self.lo, self.hi = lo, hi
        self.size = hi - lo + 2  # bin 0 = earlier, 1..hi-lo+1 = the months; bin ``size`` = later or none
        self._codes: dict[str, tuple[np.ndarray, dict[str, int]]] = {}
        self._days: dict[str, np.ndarray] = {}
        self._bins: dict[str, np.ndarray] = {}
        self._rows: dict[str, np.ndarray] = {}
        self._masks: dict[tuple, np.ndarray] = {}

    def codes(self, column: str) -> tuple[np.ndarray, dict[str, int]]:
        if column not in self._codes:
            if column in self.frame:
                codes, uniques = pd.factorize(self.frame[column], use_na_sentinel=True)
                lookup = {str(u): i for i, u in enumerate(uniques)}
            else:  # a column this caseload lacks (e.g. transfer_type before the review clocks)
                codes, lookup = np.full(len(self.frame), -1, dtype=np.int64), {}
            self._codes[column] = (np.asarray(codes), lookup)
        return self._codes[column]

    def isin(self, column: str, values: tuple[str, ...], clock: str) -> np.ndarray:
        """Rows of ``clock`` whose ``column`` is one of ``values`` ("" = blank); cached."""
        key = (clock, column, values)
        if key not in self._masks:
            codes, lookup = self.codes(column)
            table = np.zeros(len(lookup) + 1, dtype=bool)  # the last slot is for code -1 (blank)
            table[[lookup[v] for v in values if v in lookup]] = True
            if "" in values:
                table[-1] = True
                if "" in lookup:
                    table[lookup[""]] = True
            self._masks[key] = table[codes[self.rows(clock)]]
        return self._masks[key]

    def days(self, column: str) -> np.ndarray:
        if column not in self._days:
            if column in self.frame:
                self._days[column] = self.frame[column].to_numpy().astype("datetime64[D]")
            else:  # a slice of one kind of case lacks the other kind's dates: none happened
                self._days[column] = np.full(len(self.frame), NAT)
        return self._days[column]

    def bins(self, column: str) -> np.ndarray:
        """Each row's month bin for ``column``, by lookup in a table of the days from the first
        month to the last (no calendar arithmetic per row)."""
        if column not in self._bins:
            first = np.datetime64(month_start(self.lo), "D")
            table = (np.arange(first, np.datetime64(month_end(self.hi), "D") + 1)
                     .astype("datetime64[M]").astype(np.int64) - self.lo + 1)
            days = self.days(column)
            offset = (days - first).astype(np.int64)
            inside = (offset >= 0) & (offset < len(table)) & ~np.isnat(days)
            out = np.where(offset < 0, 0, self.size)
            out[inside] = table[offset[inside]]
            out[np.isnat(days)] = self.size
            self._bins[column] = out
        return self._bins[column]

    def rows(self, clock: str) -> np.ndarray:
        if not self._rows:
            codes, lookup = self.codes("clock")
            small = codes.astype(np.int16)  # few clocks: a stable sort of int16 is a radix sort
            order = np.argsort(small, kind="stable")
            bounds = np.searchsorted(small[order], np.arange(-1, len(lookup) + 1))
            self._rows = {name: order[bounds[i + 1]:bounds[i + 2]] for name, i in lookup.items()}
        return self._rows.get(clock, np.empty(0, dtype=np.int64))


def _weeks_mask(days: np.ndarray, over: int | None, at_most: int | None) -> np.ndarray:
    mask = np.ones(len(days), dtype=bool)
    if over is not None:
        mask &= days > 7 * over
    if at_most is not None:
        mask &= days <= 7 * at_most
    return mask


def _filter_mask(frame: _Frame, spec: Filter, clock: str, age_from: np.ndarray | None) -> np.ndarray:
    rows = frame.rows(clock)
    mask = np.ones(len(rows), dtype=bool)
    for column, values in spec.values.items():
        mask &= frame.isin(column, values, clock)
    if spec.weeks_taken != (None, None):
        stopped = frame.days("stopped")[rows]
        taken = (stopped - frame.days("started")[rows]).astype(np.int64)
        mask &= ~np.isnat(stopped) & _weeks_mask(taken, *spec.weeks_taken)
    if spec.age_weeks != (None, None) and age_from is not None:
        age = (age_from - frame.days("started")[rows]).astype(np.int64)
        mask &= _weeks_mask(age, *spec.age_weeks)
    return mask


def _counts(kpi: Kpi, frame: _Frame, column: str, base: np.ndarray,
            age_from: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Denominator and numerator counts by month bin: bin 0 holds everything before the first month."""
    bins = frame.bins(column)[frame.rows(kpi.clock)]
    den = np.bincount(bins[base], minlength=frame.size + 1)[:frame.size]
    if kpi.type == "count":
        return den, den
    if kpi.type == "average":  # numerator: the days taken, summed (stopped - started)
        rows = frame.rows(kpi.clock)
        taken = (frame.days("stopped")[rows] - frame.days("started")[rows]).astype(np.int64)
        total = np.bincount(bins[base], weights=taken[base], minlength=frame.size + 1)[:frame.size]
        return den, np.rint(total).astype(np.int64)
    numerator = base & _filter_mask(frame, kpi.numerator, kpi.clock, age_from)
    return den, np.bincount(bins[numerator], minlength=frame.size + 1)[:frame.size]


def _base(kpi: Kpi, frame: _Frame, event_day: np.ndarray, last_day,
          age_from: np.ndarray | None = None) -> np.ndarray:
    base = ~np.isnat(event_day) & (event_day <= last_day)
    base &= _filter_mask(frame, kpi.where, kpi.clock, age_from)
    if kpi.exceptions == "exclude":
        base &= frame.isin("exception", ("",), kpi.clock)
    if kpi.type == "average":  # an average of weeks taken needs a stop
        base &= ~np.isnat(frame.days("stopped")[frame.rows(kpi.clock)])
    return base


def percent(numerator, denominator):
    """numerator / denominator as a percentage to one decimal, halves rounded up (exact integer
    arithmetic, so 2 of 3 is 66.7 and 1 of 8 is 12.5); ``None`` when the denominator is 0."""
    numerator = np.asarray(numerator, dtype=np.int64)
    denominator = np.asarray(denominator, dtype=np.int64)
    safe = np.where(denominator > 0, denominator, 1)
    tenths = (2000 * numerator + safe) // (2 * safe)
    return np.where(denominator > 0, tenths / 10, np.nan)


def _bin_of(month: int, lo: int) -> int:
    return month - lo + 1


def _window(basis: str, month: int, year_start: int) -> tuple[int, int]:
    """(first month, last month) of ``basis`` for the period ending in ``month``."""
    shift = 12 if basis.endswith(LAST_YEAR) else 0
    kind = basis.removesuffix(LAST_YEAR)
    last = month - shift
    first = {"month": last, "year_to_date": year_start - shift, "rolling_12_months": last - 11}[kind]
    return first, last


def _figures(kpi: Kpi, den: np.ndarray, num: np.ndarray, value: np.ndarray | None, basis: str,
             months: list[int], year_starts: np.ndarray, lo: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Denominator, numerator (and, for per_caseworker, value) of every month on ``basis``, from the
    per-month-bin counts: a window is a difference of cumulative sums; a snapshot is the figure at
    the window's last month end; a cohort is cumulative to it."""
    spans = np.array([_window(basis, m, int(ys)) for m, ys in zip(months, year_starts)])
    last = spans[:, 1] - lo + 1
    if kpi.window == "snapshot":
        return den[last], num[last], (value[last] if value is not None else None)
    cum_den, cum_num = np.cumsum(den), np.cumsum(num)
    if kpi.window == "cohort":  # cumulative from the cohort start, whatever the basis
        return cum_den[last], cum_num[last], None
    before = spans[:, 0] - lo
    return cum_den[last] - cum_den[before], cum_num[last] - cum_num[before], None


def kpi_table(results: pd.DataFrame, catalogue: Catalogue, months: list[int], *, as_of: dt.date,
              snapshots: pd.DataFrame | None = None, bases: tuple[str, ...] = BASES,
              history_from: dt.date | None = None) -> pd.DataFrame:
    """The KPIs of ``catalogue`` for ``months`` (month indexes, see :func:`months_for`).

    ``results`` are clock results (``engine.evaluate`` columns, including ``transfer_type`` and
    ``decision``) judged on ``as_of``. ``snapshots`` are the clock results of the snapshot KPIs'
    clocks evaluated as of each month's end (or ``as_of`` if earlier), concatenated, with a
    ``snapshot`` column holding that day (:func:`snapshot_results` builds it); needed only when the
    catalogue has snapshot KPIs, and for the ``..._last_year`` bases it must hold the months a year
    earlier too (:func:`snapshot_months`). ``bases`` are any of ``ALL_BASES``. ``history_from`` is
    the first day the database could hold every review cycle (the first import's as-of date):
    review snapshots before it are marked ``complete = "no"``.

    Returns one row per (KPI, month, basis) with ``KPI_COLUMNS`` then ``period_start``,
    ``period_end`` and ``title``; ``attrs["warnings"]`` lists data-quality warnings (an
    implausibly high share of plans with an exception).
    """
    tally = KpiTally(catalogue, months, as_of=as_of, bases=bases, history_from=history_from)
    tally.add(results, snapshots)
    return tally.table()


class KpiTally:
    """The KPIs' counts by month bin, added up over parts of a caseload: :func:`compute_kpis` counts
    a slice of cases at a time, so a national caseload's results and month-end snapshots (twenty
    million rows for a year) never sit in memory at once. A count adds; a per-caseworker figure
    adds its open cases per (bin, caseworker); the exception-share warning adds its plans.
    :meth:`table` is what :func:`kpi_table` gives over all the parts together."""

    def __init__(self, catalogue: Catalogue, months: list[int], *, as_of: dt.date,
                 bases: tuple[str, ...] = BASES, history_from: dt.date | None = None):
        months = sorted(set(months))
        unknown = [b for b in bases if b not in ALL_BASES]
        if unknown:
            raise EhcpError(f"--basis: no basis {', '.join(map(repr, unknown))} (one of {', '.join(ALL_BASES)})")
        self.catalogue, self.months, self.as_of, self.bases = catalogue, months, as_of, bases
        self.history_from = history_from
        self.year_starts = np.array([year_start_of(m, catalogue.settings.year_start) for m in months])
        lo = min(int(self.year_starts.min()), months[0] - 11)
        if any(b.endswith(LAST_YEAR) for b in bases):
            lo -= 12
        self.lo, self.hi = lo, months[-1]
        self.size = self.hi - self.lo + 2  # as _Frame's bins
        self.last_day = np.datetime64(min(month_end(self.hi), as_of), "D")
        self.den = {k.id: np.zeros(self.size, dtype=np.int64) for k in catalogue.kpis}
        self.num = {k.id: np.zeros(self.size, dtype=np.int64) for k in catalogue.kpis}
        self.held: dict[str, list[pd.Series]] = {k.id: [] for k in catalogue.kpis if k.type == "per_caseworker"}
        self.reviews = {k.id: False for k in catalogue.kpis}  # a review row among a snapshot KPI's rows
        self.share = [0, 0]  # plans, plans with an exception (settings.exception_share_kpi)

    def add(self, results: pd.DataFrame, snapshots: pd.DataFrame | None = None) -> None:
        """Count one part of the caseload: its ``results`` and ``snapshots`` as :func:`kpi_table` takes them."""
        settings = self.catalogue.settings
        frame = _Frame(results, self.lo, self.hi)
        snap = None
        if any(k.window == "snapshot" for k in self.catalogue.kpis):
            if snapshots is None:
                raise ValueError("the catalogue has snapshot KPIs: pass snapshots (see snapshot_results)")
            snap = _Frame(snapshots, self.lo, self.hi)
        for kpi in self.catalogue.kpis:
            if kpi.window == "snapshot":
                day = snap.days("snapshot")[snap.rows(kpi.clock)]
                base = _base(kpi, snap, day, self.last_day, age_from=day)
                if kpi.type == "per_caseworker":
                    self.held[kpi.id].append(_caseworker_cases(kpi, snap, base))
                else:
                    den, num = _counts(kpi, snap, "snapshot", base, age_from=day)
                    self.den[kpi.id] += den
                    self.num[kpi.id] += num
                self.reviews[kpi.id] |= any(_has_reviews(kpi, f) for f in (snap, frame))
            else:
                rows = frame.rows(kpi.clock)
                event_day = frame.days(kpi.counts_by)[rows]
                base = _base(kpi, frame, event_day, self.last_day)
                if kpi.window == "cohort":
                    base &= frame.days("started")[rows] >= np.datetime64(settings.cohort_start, "D")
                den, num = _counts(kpi, frame, kpi.counts_by, base)
                self.den[kpi.id] += den
                self.num[kpi.id] += num
                if kpi.id == settings.exception_share_kpi:
                    plans, with_exception = _exception_counts(kpi, frame, base, int(self.year_starts.min()))
                    self.share[0] += plans
                    self.share[1] += with_exception

    def table(self) -> pd.DataFrame:
        blocks, warnings = [], []
        for kpi in self.catalogue.kpis:
            value = None
            den, num = self.den[kpi.id], self.num[kpi.id]
            partial = set()
            if kpi.window == "snapshot":
                if kpi.type == "per_caseworker":
                    den, num, value = _per_caseworker(kpi, self.held[kpi.id], self.size)
                if self.reviews[kpi.id]:
                    partial = _partial_months(self.lo, self.hi, self.history_from, self.as_of)
            elif kpi.id == self.catalogue.settings.exception_share_kpi:
                warnings += _exception_share(*self.share, self.catalogue.settings, int(self.year_starts.min()),
                                             self.hi)
            for basis in self.bases:
                d, n, v = _figures(kpi, den, num, value, basis, self.months, self.year_starts, self.lo)
                incomplete = [_window(basis, m, int(ys))[1] in partial
                              for m, ys in zip(self.months, self.year_starts)]
                blocks.append((kpi, basis, d, n, v, incomplete))
        out = _assemble(blocks, self.months, self.year_starts, self.as_of, self.catalogue)
        out.attrs["warnings"] = warnings
        return out


def _caseworker_cases(kpi: Kpi, snap: _Frame, base: np.ndarray) -> pd.Series:
    """Open cases per (month bin, caseworker) among ``base``, by name, not by this part's codes, so
    the parts of a caseload add up (one caseworker's cases fall in several slices)."""
    rows = snap.rows(kpi.clock)
    bins = snap.bins("snapshot")[rows]
    codes, lookup = snap.codes("caseworker")
    names = np.empty(len(lookup), dtype=object)
    for name, i in lookup.items():
        names[i] = name
    chosen = base & (codes[rows] >= 0)
    return pd.DataFrame({"bin": bins[chosen], "who": names[codes[rows][chosen]]}).groupby(["bin", "who"]).size()


def _per_caseworker(kpi: Kpi, held: list[pd.Series], size: int):
    """Per month bin: (caseworkers holding an open case, open cases they hold, median or max each)."""
    den = np.zeros(size, dtype=np.int64)
    num = np.zeros(size, dtype=np.int64)
    value = np.full(size, np.nan)
    held = [h for h in held if len(h)]
    if not held:
        return den, num, value
    total = held[0] if len(held) == 1 else pd.concat(held).groupby(level=["bin", "who"]).sum()
    for b, counts in total.groupby(level="bin"):
        if b < size:
            den[b], num[b] = len(counts), int(counts.sum())
            value[b] = float(np.median(counts)) if kpi.statistic == "median" else float(counts.max())
    return den, num, value


def _has_reviews(kpi: Kpi, frame: _Frame) -> bool:
    return bool((frame.frame["kind"].to_numpy()[frame.rows(kpi.clock)] == "review").any())


def _partial_months(lo: int, hi: int, history_from: dt.date | None, as_of: dt.date) -> set[int]:
    """Months (indexes) whose review snapshot day falls before ``history_from``: a current-cycle
    extract cannot hold the cycles that were current then, so the figure is partial."""
    if history_from is None:
        return set()
    return {m for m in range(lo, hi + 1) if min(month_end(m), as_of) < history_from}


def _exception_counts(kpi: Kpi, frame: _Frame, base: np.ndarray, first: int) -> tuple[int, int]:
    """(plans issued in the run's reporting years, those of them with an exception recorded)."""
    bins = frame.bins(kpi.counts_by)[frame.rows(kpi.clock)]
    window = base & (bins >= _bin_of(first, frame.lo)) & (bins < frame.size)  # the run's reporting years
    return int(window.sum()), int((window & ~frame.isin("exception", ("",), kpi.clock)).sum())


def _exception_share(plans: int, with_exception: int, settings, lo: int, hi: int) -> list[str]:
    """Warn when the share of plans with an exception is implausible (DfE suppressed councils that
    marked every plan as an exception; nationally about 6.6% of plans in 2025)."""
    if plans < max(settings.exception_share_min_plans, 1):
        return []
    share = 100 * with_exception / plans
    if share <= settings.exception_share_warning:
        return []
    return [f"{with_exception} of {plans} plans issued {month_start(lo):%b %Y} to {month_end(hi):%b %Y} "
            f"({share:.1f}%) have a 20-week exception recorded, above the {settings.exception_share_warning:g}% "
            "warning level (nationally about 6.6% in 2025). DfE suppressed councils that classed every plan "
            "as an exception: check how exceptions are recorded before publishing the excluding-exceptions figures."]


def average_weeks(total_days, count):
    """Mean weeks (total days / 7 / count) to one decimal, halves rounded up, in exact integer
    arithmetic (10 plans taking 1,400 days in all average 20.0 weeks); ``NaN`` when count is 0."""
    total_days = np.asarray(total_days, dtype=np.int64)
    count = np.asarray(count, dtype=np.int64)
    safe = np.where(count > 0, count, 1)
    tenths = (20 * total_days + 7 * safe) // (14 * safe)
    return np.where(count > 0, tenths / 10, np.nan)


def _values(kpi: Kpi, den, num, value) -> np.ndarray:
    if kpi.type == "ratio":
        return percent(num, den)
    if kpi.type == "average":
        return average_weeks(num, den)
    if kpi.type == "per_caseworker":
        return value
    return np.full(len(num), np.nan)


def _assemble(blocks, months: list[int], year_starts: np.ndarray, as_of: dt.date, catalogue: Catalogue) -> pd.DataFrame:
    records: dict[str, list] = {c: [] for c in KPI_COLUMNS + EXTRA_KPI_COLUMNS}
    periods = [f"{month_start(m):%Y-%m}" for m in months]
    for kpi, basis, den, num, value, incomplete in blocks:
        values = _values(kpi, den, num, value)
        for i, m in enumerate(months):
            first, last = _window(basis, m, int(year_starts[i]))
            records["kpi"].append(kpi.id)
            records["period"].append(periods[i])
            records["basis"].append(basis)
            records["numerator"].append(int(num[i]))
            if kpi.type == "count":
                records["denominator"].append(None)
                records["value"].append(None)
            else:
                records["denominator"].append(int(den[i]))
                records["value"].append(None if np.isnan(values[i]) else float(values[i]))
            records["target"].append(catalogue.target_for(kpi.id, month_end(m)))
            records["complete"].append("no" if incomplete[i] else "yes")
            if kpi.window == "cohort":
                start = catalogue.settings.cohort_start
            elif kpi.window == "snapshot":
                start = month_start(last)
            else:
                start = month_start(first)
            records["period_start"].append(start)
            records["period_end"].append(min(month_end(last), as_of))
            records["title"].append(kpi.title)
    # Blank stays None (not NaN) and counts stay whole numbers, so CSV shows "" and "12", not "12.0".
    frame = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in records.items()})
    frame["numerator"] = frame["numerator"].astype("int64")
    for name in ("period_start", "period_end"):
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[s]")
    return frame


# --------------------------------------------------------------------------- over a database

def load_caseload(engine: Engine, filters: Filters = Filters()) -> dict[str, pd.DataFrame]:
    """Every case matching ``filters`` (team, caseworker, cohort, kind), by kind of case, read once.

    Cases missing from the latest extract are read too, with ``missing_since`` (the as-of date of
    the import that first missed them): they keep counting in the months their events happened
    (:func:`while_present`), unless ``filters.include_missing`` counts them as if present."""
    check_cohort(filters)
    caseload = {}
    with engine.connect() as conn:
        filters = resolve_filters(conn, filters)
        left = dict(conn.execute(sa.select(db.import_run.c.id, db.import_run.c.as_of)).all())
        for name in [filters.kind] if filters.kind else list(KINDS):
            cases = load_filtered(conn, name, replace(filters, include_missing=True))
            caseload[KINDS[name].case] = with_missing_since(cases, left, filters.include_missing)
    return caseload


def while_present(results: pd.DataFrame, caseload: dict[str, pd.DataFrame], snapshot_day: dt.date | None = None
                  ) -> pd.DataFrame:
    """The clock results of cases missing from the extract kept only for what happened while they were
    in it: a clock stopped by then, or due by then (the deadline passed while the case was held); in a
    snapshot, only on days before they left. Present cases are untouched."""
    keep = np.ones(len(results), dtype=bool)
    for case, cases in caseload.items():
        if "missing_since" not in cases or not cases["missing_since"].notna().any():
            continue
        left_by_id = cases.set_index(KINDS_BY_CASE[case].key)["missing_since"]
        mine = (results["kind"] == case).to_numpy()
        left = results.loc[mine, "case_id"].map(left_by_id).to_numpy(dtype="datetime64[s]")
        if snapshot_day is not None:
            ok = np.isnat(left) | (np.datetime64(snapshot_day, "s") < left)
        else:
            stopped = results.loc[mine, "stopped"].to_numpy(dtype="datetime64[s]")
            due = results.loc[mine, "due"].to_numpy(dtype="datetime64[s]")
            ok = np.isnat(left) | (stopped <= left) | (np.isnat(stopped) & (due < left))
        keep[mine] = ok
    return results[keep] if not keep.all() else results


def evaluate_caseload(caseload: dict[str, pd.DataFrame], book: RuleBook, as_of: dt.date,
                      clocks: list[str], *, stops: bool = False, columns: list[str] | None = None) -> pd.DataFrame:
    """The results of ``clocks`` over a caseload read by :func:`load_caseload`, judged on ``as_of``
    (``stops``: with the stop dates ``History`` judges earlier days from; ``columns``: keep only
    these, as each kind is evaluated, so millions of results do not carry columns nobody reads)."""
    frames = []
    for case, cases in caseload.items():
        wanted = [c.id for c in book.clocks_for(case) if c.id in clocks]
        if wanted and len(cases):
            frame = evaluate(cases, book, as_of, case=case, clocks=wanted, stops=stops)
            frames.append(frame if columns is None else frame[[c for c in columns if c in frame]])
    frames = [f for f in frames if len(f)]
    if frames:
        return pd.concat(frames, ignore_index=True)
    empty = empty_result(stops)
    return empty if columns is None else empty[[c for c in columns if c in empty]]


def snapshot_results(evaluate_on, months: list[int], as_of: dt.date) -> pd.DataFrame:
    """Clock results as of each month's end (or ``as_of`` if earlier), with a ``snapshot`` column.

    ``evaluate_on(day)`` returns the clock results judged on ``day``.
    """
    frames = []
    for m in sorted(set(months)):
        day = min(month_end(m), as_of)
        part = evaluate_on(day)
        part = part.assign(snapshot=pd.Series(np.full(len(part), np.datetime64(day, "s")), index=part.index))
        frames.append(part)
    return pd.concat(frames, ignore_index=True)


def snapshot_months(months: list[int], bases: tuple[str, ...]) -> list[int]:
    """The month ends a run's snapshot KPIs need: its months, and a year earlier for a last-year basis."""
    wanted = set(months)
    if any(b.endswith(LAST_YEAR) for b in bases):
        wanted |= {m - 12 for m in months}
    return sorted(wanted)


def _cycle_not_begun(reviews: pd.DataFrame, day: dt.date) -> np.ndarray:
    """Review rows whose cycle began after ``day``: the anchor (the later of ``plan_issued`` and
    ``last_review``) is after it."""
    anchor = pd.concat([pd.to_datetime(reviews[c], errors="coerce") for c in ("plan_issued", "last_review")
                        if c in reviews], axis=1).max(axis=1)
    return (anchor > pd.Timestamp(day)).to_numpy()


def as_they_stood(caseload: dict[str, pd.DataFrame], day: dt.date) -> dict[str, pd.DataFrame]:
    """The caseload as it stood on ``day``, for a month-end snapshot: review history honesty.

    A review row is one cycle of a plan, and its cycle begins on its anchor (the later of
    ``plan_issued`` and ``last_review``). On a day before that the row did not exist: the cycle that
    was current then is another row, or (in a current-cycle extract) not in the database at all.
    Blanking the later anchor would judge the row from its older one and invent an overdue review
    that was in fact concluded (issue 16: 830 "overdue" a year ago, 763 of them cycles begun in
    2026). So such rows are left out, never re-anchored; assessments are kept as they are (the
    engine blanks their later stage dates).
    """
    out = dict(caseload)
    reviews = caseload.get("review")
    if reviews is not None and len(reviews):
        out["review"] = reviews[~_cycle_not_begun(reviews, day)]
    return out


def before_cycles_began(results: pd.DataFrame, caseload: dict[str, pd.DataFrame], day: dt.date) -> pd.DataFrame:
    """``results`` judged on ``day`` without the clocks of review rows whose cycle began after it
    (:func:`as_they_stood`, applied to results: the snapshots come from one evaluation)."""
    reviews = caseload.get("review")
    if reviews is None or not len(reviews) or not len(results):
        return results
    later = set(reviews.loc[_cycle_not_begun(reviews, day), KINDS_BY_CASE["review"].key])
    if not later:
        return results
    drop = (results["kind"] == "review").to_numpy() & results["case_id"].isin(later).to_numpy()
    return results[~drop]


def history_start(engine: Engine) -> dt.date | None:
    """The as-of date of the first import that was not rejected: before it, review cycles that have
    since been replaced may be missing (``complete = no`` on review snapshots)."""
    with engine.connect() as conn:
        first = conn.execute(sa.select(sa.func.min(db.import_run.c.as_of))
                             .where(db.import_run.c.status != "rejected")).scalar_one()
    if isinstance(first, dt.datetime):
        return first.date()
    return dt.date.fromisoformat(first) if isinstance(first, str) else first


def _result_columns(catalogue: Catalogue) -> list[str]:
    """Every result column a KPI run reads: the KPIs' own, and what the snapshots (``History``) and
    ``while_present`` work from."""
    columns = ["case_id", "kind", "clock", "started", "due", "stopped", "status", "stop_reason", "exception",
               *STOP_COLUMNS, *OUTCOME_COLUMNS]
    if any(k.type == "per_caseworker" for k in catalogue.kpis):
        columns.append("caseworker")
    for k in catalogue.kpis:
        columns += [c for spec in (k.where, k.numerator) for c in spec.values if c not in columns]
    return columns


def _snapshot_columns(catalogue: Catalogue) -> list[str]:
    """The result columns the snapshot KPIs read: twelve month ends of a national caseload are
    twenty million rows, so the other twenty-odd columns are left behind (gigabytes of them)."""
    columns = ["clock", "started", "stopped", "status", "stop_reason", "exception",
               "kind"]  # kind: review snapshots before the first import are partial (issue 16)
    if any(k.type == "per_caseworker" for k in catalogue.kpis if k.window == "snapshot"):
        columns.append("caseworker")
    for k in catalogue.kpis:
        if k.window == "snapshot":
            columns += [c for spec in (k.where, k.numerator) for c in spec.values if c not in columns]
    return columns


def _usable(catalogue: Catalogue, book: RuleBook) -> tuple[Catalogue, list[str]]:
    clocks = {c.id for c in book.clocks}
    skipped = [k.id for k in catalogue.kpis if k.clock not in clocks]
    return catalogue.only(k.id for k in catalogue.kpis if k.clock in clocks), skipped


def compute_kpis(engine: Engine, book: RuleBook, catalogue: Catalogue | None = None, *,
                 month: str | int | None = None, year: int | None = None, as_of: dt.date,
                 filters: Filters = Filters(), year_start: int | None = None,
                 months: list[str] | None = None, bases: tuple[str, ...] = BASES,
                 caseload: dict[str, pd.DataFrame] | None = None, slice_size: int | None = None) -> pd.DataFrame:
    """The KPIs for one month (``month="2026-03"``), for every month of a reporting year
    (``year=2026``), for any list of months (``months=["2025-11", ..., "2026-10"]``, the board
    pack's trends: one evaluation for all of them), or for the as-of month, over the cases in the
    database matching ``filters``.

    ``catalogue`` defaults to the shipped ``rules/kpi``; ``year_start`` (1, 4 or 9) overrides its
    reporting-year start; ``bases`` are any of ``ALL_BASES`` (default month and year to date).
    KPIs whose clock the rule book lacks are left out and listed in ``attrs["skipped"]``;
    ``attrs["warnings"]`` holds data-quality warnings. ``caseload``: the cases already read by
    :func:`load_caseload` with the same filters, cut in memory; without it the cases are read from
    the database a slice at a time (``measures.parts``), so a national caseload is never in memory
    at once. ``slice_size``: cases evaluated and counted at a time (default
    ``clocks.slices.SLICE_CASES`` in memory, ``store.caseload.SLICE_CASES`` from the database),
    which bounds the memory of the cases, their results and their month-end snapshots. Columns:
    ``KPI_COLUMNS`` (``kpi, period, basis, numerator, denominator, value, target, complete``)
    then ``period_start``, ``period_end``, ``title``; one row per KPI, basis and month, in
    catalogue order.

    Example::

        frame = compute_kpis(engine, book, month="2026-03", as_of=dt.date(2026, 4, 2))
        frame[(frame.basis == "year_to_date") & (frame.kpi == "plans_within_20_weeks_excl_exceptions")]
    """
    run = KpiRun(engine, book, catalogue, month=month, year=year, as_of=as_of, year_start=year_start,
                 months=months, bases=bases)
    parts = case_slices(caseload, slice_size) if caseload is not None else caseload_parts(engine, filters, slice_size)
    for part in parts:
        run.add(part)
    return run.table()


class KpiRun:
    """:func:`compute_kpis` in three steps (set up, count a part of the caseload, the table), so
    the board pack can hand every part it reads to several KPI runs and its other sections
    (``report.data.gather``) and read the caseload once, a slice at a time."""

    def __init__(self, engine: Engine, book: RuleBook, catalogue: Catalogue | None = None, *,
                 month: str | int | None = None, year: int | None = None, as_of: dt.date,
                 year_start: int | None = None, months: list[str] | None = None, bases: tuple[str, ...] = BASES):
        catalogue = catalogue or load_catalogue(book=book)
        if year_start is not None:
            catalogue = replace(catalogue, settings=replace(catalogue.settings, year_start=year_start))
        catalogue, self.skipped = _usable(catalogue, book)
        if months is not None:
            if month is not None or year is not None:
                raise EhcpError("give months, or month or year, not both")
            months = sorted({i for m in months for i in months_for(as_of=as_of, month=m)})
        else:
            months = months_for(as_of=as_of, month=month, year=year, year_start=catalogue.settings.year_start)
        self.book, self.catalogue, self.months, self.as_of, self.bases = book, catalogue, months, as_of, bases
        self.period_clocks = sorted({k.clock for k in catalogue.kpis if k.window != "snapshot"})
        self.snapshot_clocks = sorted({k.clock for k in catalogue.kpis if k.window == "snapshot"})
        self.tally = KpiTally(catalogue, months, as_of=as_of, bases=bases, history_from=history_start(engine))

    def add(self, part: dict[str, pd.DataFrame]) -> None:
        """Evaluate, snapshot and count one part of the caseload (a caseload of one or more kinds)."""
        book, as_of, catalogue, snapshot_clocks = self.book, self.as_of, self.catalogue, self.snapshot_clocks
        everything = evaluate_caseload(part, book, as_of, sorted({*self.period_clocks, *snapshot_clocks}),
                                       stops=bool(snapshot_clocks), columns=_result_columns(catalogue))
        results = while_present(everything, part)
        snapshots = None
        if snapshot_clocks:
            # one evaluation, judged again at each month end by interval tests (clocks/history.py); a
            # review row is left out on days before its cycle began (review history honesty)
            needed = _snapshot_columns(catalogue)
            history = History(part, everything[everything["clock"].isin(snapshot_clocks)], book, as_of,
                              snapshot_clocks, columns=needed)
            del everything
            snapshots = snapshot_results(
                lambda day: while_present(before_cycles_began(history.on(day), part, day), part,
                                          snapshot_day=day)[needed],
                snapshot_months(self.months, self.bases), as_of)
            del history
        self.tally.add(results, snapshots)

    def table(self) -> pd.DataFrame:
        frame = self.tally.table()
        frame.attrs["skipped"] = self.skipped
        return frame


def tracker_table(kpis: pd.DataFrame) -> pd.DataFrame:
    """The monthly tracker councils publish, from :func:`kpi_table` rows of a calendar year:
    one row a month and a total row (``TRACKER_COLUMNS``)."""
    month_rows = kpis[kpis["basis"] == "month"]
    ytd_rows = kpis[kpis["basis"] == "year_to_date"]

    def series(frame, kpi, column):
        chosen = frame[frame["kpi"] == kpi].set_index("period")[column]
        return chosen.astype("int64") if column != "value" else chosen

    agreed = series(month_rows, "requests_agreed", "numerator")
    issued = series(month_rows, "plans_within_20_weeks", "denominator")
    within = series(month_rows, "plans_within_20_weeks", "numerator")
    table = pd.DataFrame({
        "month": agreed.index.to_numpy(dtype=object),
        "requests_agreed": agreed.to_numpy(),
        "plans_issued": issued.to_numpy(),
        "issued_within_20_weeks": within.to_numpy(),
        "pct_within_20_weeks": list(percent(within.to_numpy(), issued.to_numpy())),
        "plans_issued_cumulative": series(ytd_rows, "plans_issued", "numerator").to_numpy(),
    })
    total = {"month": "total", "requests_agreed": int(table["requests_agreed"].sum()),
             "plans_issued": int(table["plans_issued"].sum()),
             "issued_within_20_weeks": int(table["issued_within_20_weeks"].sum())}
    total["pct_within_20_weeks"] = float(percent(total["issued_within_20_weeks"], total["plans_issued"]))
    total["plans_issued_cumulative"] = total["plans_issued"]
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table["pct_within_20_weeks"] = table["pct_within_20_weeks"].astype(object).where(
        table["pct_within_20_weeks"].notna(), None)
    for name in ("requests_agreed", "plans_issued", "issued_within_20_weeks", "plans_issued_cumulative"):
        table[name] = table[name].astype("int64")
    return table[TRACKER_COLUMNS]


def tracker(engine: Engine, book: RuleBook, year: int, as_of: dt.date, catalogue: Catalogue | None = None,
            filters: Filters = Filters(), caseload: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The published monthly tracker for calendar ``year`` (January to December, or to the as-of
    month): month, requests agreed, plans issued, issued within 20 weeks, % within 20 weeks, plans
    issued cumulative from January; then a total row. ``attrs["warnings"]`` as :func:`compute_kpis`."""
    catalogue = (catalogue or load_catalogue(book=book)).only(TRACKER_KPIS)
    kpis = compute_kpis(engine, book, catalogue, year=year, as_of=as_of, filters=filters, year_start=1,
                        caseload=caseload)
    return tracker_of(kpis)


def tracker_run(engine: Engine, book: RuleBook, year: int, as_of: dt.date,
                catalogue: Catalogue | None = None) -> KpiRun:
    """:func:`tracker`'s KPIs as a :class:`KpiRun` to hand parts of the caseload to (the board pack);
    :func:`tracker_of` its table."""
    catalogue = (catalogue or load_catalogue(book=book)).only(TRACKER_KPIS)
    return KpiRun(engine, book, catalogue, year=year, as_of=as_of, year_start=1)


def tracker_of(kpis: pd.DataFrame) -> pd.DataFrame:
    """The tracker from its KPIs (:func:`tracker`), warnings carried over."""
    missing = set(TRACKER_KPIS) - set(kpis["kpi"])
    if missing:
        raise EhcpError("the tracker needs the KPIs " + ", ".join(sorted(missing)) + " in the catalogue")
    table = tracker_table(kpis)
    table.attrs["warnings"] = kpis.attrs.get("warnings", [])
    return table


# --------------------------------------------------------------------------- documentation

def catalogue_table(catalogue: Catalogue) -> pd.DataFrame:
    """Every KPI with its definition (``ehcp kpi --list``)."""
    rows = []
    for k in catalogue.kpis:
        rows.append({"kpi": k.id, "type": k.type, "better": k.better, "clock": k.clock, "counts_by": k.counts_by,
                     "window": k.window, "exceptions": k.exceptions, "definition": k.definition,
                     "source": k.source})
    return pd.DataFrame(rows)


def catalogue_markdown(catalogue: Catalogue) -> str:
    """The README's KPI table, generated from the catalogue (a test keeps the README equal to it)."""
    lines = ["| KPI | type | better | clock, counted by | definition | source |",
             "| --- | --- | --- | --- | --- | --- |"]
    for k in catalogue.kpis:
        window = {"period": "", "cohort": ", cohort", "snapshot": ", snapshot at the period end"}[k.window]
        exceptions = " Exception cases excluded from both." if k.exceptions == "exclude" else ""
        kind = f"{k.type} ({k.statistic})" if k.statistic else k.type
        lines.append(f"| `{k.id}` | {kind} | {k.better} | `{k.clock}`, {k.counts_by}{window} | {k.definition}{exceptions} "
                     f"| {k.source} |")
    return "\n".join(lines) + "\n"
