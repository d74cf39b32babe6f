"""Deterministic synthetic extracts: EHC needs assessment requests and annual reviews.

Everything here is invented. There are no names, addresses or real dates of birth: ids are
sequential codes (``R0000001``, ``AR0000001``, ``P0000123``, ``CW001``) and the few dates of birth
are derived from the national curriculum year, so they carry no information about anyone.

The generator is vectorised with numpy so a national-scale extract (1,000,000 requests and 700,000
reviews) takes seconds, and it is deterministic: the same ``(n, seed, end, years)`` always gives the
same rows (on the same numpy version: numpy does not promise identical random streams forever).

Shape of the data (figures from ``docs/law/statutory-rules.md`` section 5, DfE 2025 release):

* request volumes follow the school year (low in August and December, peaks in the autumn and
  summer terms), fewer at weekends, and grow about 8% a year;
* about 87% of decisions whether to assess are made within 6 weeks; of decided requests about
  70% are agreed, 29% refused and 1% withdrawn, and requests still undecided at ``end`` (recent
  ones, plus a few stuck) make up about 7% of all requests;
* advice is requested from the EP service, health, social care and education within days of the
  decision; returns take about 6 weeks, with some late, some never recorded, a few exceptions;
* about 10% of assessments end ``not_issue`` (16-week clock, about a third on time);
* of final plans issued in the last 12 months about 46% took 20 weeks or less, about 44% 20-52
  weeks and about 10% more than 52 weeks; about 7% of plans have a 20-week exception;
* reviews: one row per review. Each plan (made over the past years) has a row for its current
  review cycle; about 30% of rows are the plan's previous, concluded review, whose decision
  letter is the current row's ``last_review`` (a plan ceased at that review has no current row).
  Meetings mostly a few weeks before the anniversary, about 12% of cycles overdue, about half the
  decisions within 4 weeks, maintain/amend/cease, amendment notices and amended plans (about 40%
  later than 8 weeks), a few decisions never recorded, every year group from nursery (-1) and
  Reception (0) to 14 (``ncy`` is the year in the academic year the review falls due; 15% of rows
  give a derived date of birth instead), some explicit phase transfers and post-16 moves with a
  ``transfer_date`` (on or before ``end``, like every date).

Every row satisfies the import invariants (all dates on or before ``end``, every stage after the
one it depends on, codes only where they are allowed); ``tests/test_synthetic.py`` checks them.

``write_sample_data`` regenerates the committed ``sample_data/`` (seeded rows plus the hand-written
edge rows below), so a test can check the committed files are exactly what the code produces::

    python -m ehcp_tracker.demo.synthetic --sample-data sample_data
    python -m ehcp_tracker.demo.synthetic --requests 1000000 --reviews 700000 --seed 1 --output DIR
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EhcpError
from ..files import atomic_open, atomic_write

__all__ = [
    "ASSESSMENT_COLUMNS",
    "REVIEW_COLUMNS",
    "COUNCIL_COLUMNS",
    "SAMPLE_END",
    "SAMPLE_SEED",
    "EDGE_ASSESSMENTS",
    "EDGE_REVIEWS",
    "generate_assessments",
    "generate_reviews",
    "write_extracts",
    "write_sample_data",
    "sample_frames",
    "main",
]

ASSESSMENT_COLUMNS = [
    "request_id", "person_id", "request_received", "caseworker", "team",
    "request_outcome", "request_outcome_date",
    "ep_advice_requested", "ep_advice_received", "health_advice_requested", "health_advice_received",
    "social_care_advice_requested", "social_care_advice_received",
    "education_advice_requested", "education_advice_received",
    "assessment_outcome", "assessment_outcome_date", "draft_plan_issued", "final_plan_issued",
    "exception_reason", "decision_exception",
    "ep_advice_exception", "health_advice_exception", "social_care_advice_exception",
    "education_advice_exception",
    "closed_date", "closed_reason", "looked_after", "youth_justice", "camhs", "placed_out_of_area",
]

REVIEW_COLUMNS = [
    "review_id", "person_id", "caseworker", "team", "plan_issued", "last_review", "ncy",
    "ncy_academic_year", "date_of_birth", "phase_transfer", "transfer_date", "transferred_in",
    "meeting_notice_sent", "advice_circulated", "review_meeting", "review_report_sent",
    "decision_notified", "decision", "amendment_notice_sent", "amended_plan_issued", "ceased_date",
    "exception_reason", "looked_after", "youth_justice", "camhs", "placed_out_of_area",
]

FLAGS = ("looked_after", "youth_justice", "camhs", "placed_out_of_area")
SERVICES = ("ep", "health", "social_care", "education")
TEAMS = ("North", "South", "East", "West")
EXCEPTIONS_20W = ("school_closure", "early_years_closure", "personal_circumstances", "absence_from_area")
EXCEPTIONS_ADVICE = ("personal_circumstances", "absence_from_area", "missed_appointment")
CLOSED_REASONS = ("plan_issued", "not_assess", "not_issue", "withdrawn", "moved_away")

# The sample in sample_data/ (see write_sample_data).
SAMPLE_END = dt.date(2026, 10, 30)
SAMPLE_SEED = 20261030
SAMPLE_REQUESTS = 372  # plus the edge rows: about 400
SAMPLE_REVIEWS = 278  # plus the edge rows: about 300

_NAT = np.datetime64("NaT", "D")
_I64_NAT = np.iinfo(np.int64).min

# Person-id ranges keep the two generated files and the edge rows apart.
_ASSESSMENT_PERSONS = (1, 4_000_000)
_REVIEW_PERSONS = (4_000_000, 9_000_000)

# Relative request volume by calendar month (Jan..Dec): school-year shaped.
_SEASON = np.array([1.05, 1.05, 1.15, 0.85, 1.05, 1.15, 1.10, 0.45, 0.85, 1.15, 1.20, 0.80])
_GROWTH = 0.08  # a year
_WEEKEND = 0.08  # relative volume on Saturdays and Sundays
# Time to the final plan before the advice is taken into account: within 20 weeks / 20-52 weeks /
# over 52 weeks. Late advice pushes some plans later, so the issued mix comes out near 46/44/10.
_FINAL_BANDS = [0.71, 0.175, 0.115]

# National curriculum year -1 (nursery) .. 14: share of the plan caseload.
_NCY_WEIGHTS = np.array([0.6, 2.0, 4.0, 5.0, 5.6, 6.0, 6.5, 7.0, 7.4, 7.6, 7.8, 7.8, 7.2, 6.0, 4.2, 2.6])


# --------------------------------------------------------------------------- column containers


class _Col:
    """One output column, kept in a compact numpy form until it is written or framed."""

    width: int

    def encode(self, sl: slice) -> np.ndarray:  # (k, width) uint8, NUL = nothing
        raise NotImplementedError

    def to_series(self) -> np.ndarray | pd.api.extensions.ExtensionArray:
        raise NotImplementedError


class _DateCol(_Col):
    width = 10

    def __init__(self, values: np.ndarray):
        self.values = values.astype("M8[D]")

    def encode(self, sl: slice) -> np.ndarray:
        v = self.values[sl]
        k = v.shape[0]
        out = np.zeros((k, 10), dtype=np.uint8)
        ok = ~np.isnat(v)
        if not ok.any():
            return out
        w = v[ok]
        year = w.astype("M8[Y]").astype(np.int64) + 1970
        month_start = w.astype("M8[M]")
        month = month_start.astype(np.int64) % 12 + 1
        day = (w - month_start.astype("M8[D]")).astype(np.int64) + 1
        block = np.empty((w.shape[0], 10), dtype=np.uint8)
        block[:, 0] = year // 1000 + 48
        block[:, 1] = year // 100 % 10 + 48
        block[:, 2] = year // 10 % 10 + 48
        block[:, 3] = year % 10 + 48
        block[:, 4] = 45
        block[:, 5] = month // 10 + 48
        block[:, 6] = month % 10 + 48
        block[:, 7] = 45
        block[:, 8] = day // 10 + 48
        block[:, 9] = day % 10 + 48
        out[ok] = block
        return out

    def to_series(self):
        return self.values.astype(object)  # datetime.date, NaT -> None


class _CatCol(_Col):
    """Codes into a tuple of strings; -1 is blank."""

    def __init__(self, codes: np.ndarray, categories: tuple[str, ...]):
        self.codes = codes.astype(np.int16)
        self.categories = tuple(categories)
        table = np.array([""] + list(self.categories), dtype="S")
        self.width = max(table.dtype.itemsize, 1)
        self._table = table.astype(f"S{self.width}").view(np.uint8).reshape(len(table), self.width)

    def encode(self, sl: slice) -> np.ndarray:
        return self._table[self.codes[sl] + 1]

    def to_series(self):
        return np.array([None] + list(self.categories), dtype=object)[self.codes + 1]


class _IdCol(_Col):
    """``prefix`` + zero-padded number; a negative number is blank."""

    def __init__(self, prefix: str, numbers: np.ndarray, digits: int):
        self.prefix = prefix.encode("ascii")
        self.numbers = numbers.astype(np.int64)
        self.digits = digits
        self.width = len(self.prefix) + digits

    def encode(self, sl: slice) -> np.ndarray:
        num = self.numbers[sl]
        out = np.empty((num.shape[0], self.width), dtype=np.uint8)
        out[:, : len(self.prefix)] = np.frombuffer(self.prefix, dtype=np.uint8)
        x = np.maximum(num, 0)
        for i in range(self.digits - 1, -1, -1):
            out[:, len(self.prefix) + i] = x % 10 + 48
            x = x // 10
        out[num < 0] = 0
        return out

    def to_series(self):
        text = self.encode(slice(None)).view(f"S{self.width}").ravel().astype(f"U{self.width}")
        obj = text.astype(object)
        obj[self.numbers < 0] = None
        return obj


class _IntCol(_CatCol):
    """Small integers (the curriculum year) with -99 for blank."""

    def __init__(self, values: np.ndarray, low: int, high: int):
        values = values.astype(np.int64)
        codes = np.where(values == -99, -1, values - low)
        super().__init__(codes, tuple(str(i) for i in range(low, high + 1)))
        self.values = values

    def to_series(self):
        blank = self.values == -99
        return pd.arrays.IntegerArray(np.where(blank, 0, self.values).astype(np.int64), blank)


class _Table:
    def __init__(self, columns: dict[str, _Col], n: int):
        self.columns = columns
        self.n = n

    def frame(self) -> pd.DataFrame:
        data = {}
        for name, col in self.columns.items():
            values = col.to_series()
            # object columns keep None for blank (pandas would otherwise infer a str dtype with NaN)
            data[name] = pd.Series(values, dtype=object if isinstance(values, np.ndarray) else None,
                                   copy=False)
        return pd.DataFrame(data)

    def write_csv(self, path: Path, chunk: int = 100_000) -> None:
        header = (",".join(self.columns) + "\n").encode("ascii")
        cols = list(self.columns.values())
        with atomic_open(path, "wb") as fh:
            fh.write(header)
            for start in range(0, self.n, chunk):
                sl = slice(start, min(start + chunk, self.n))
                k = sl.stop - sl.start
                comma = np.full((k, 1), 44, dtype=np.uint8)
                newline = np.full((k, 1), 10, dtype=np.uint8)
                parts = []
                for i, col in enumerate(cols):
                    parts.append(col.encode(sl))
                    parts.append(newline if i == len(cols) - 1 else comma)
                buf = np.concatenate(parts, axis=1)
                fh.write(buf[buf != 0].tobytes())


# --------------------------------------------------------------------------- helpers


def _day(d: dt.date) -> np.datetime64:
    return np.datetime64(d, "D")


def _nat_after(values: np.ndarray, limit) -> np.ndarray:
    """Blank every date after ``limit`` (a date or an array of dates); NaT limits blank nothing."""
    limit = np.asarray(limit, dtype="M8[D]")
    bad = ~np.isnat(values) & ~np.isnat(limit) & (values > limit)
    return np.where(bad, _NAT, values)


def _days(x: np.ndarray) -> np.ndarray:
    return np.rint(x).astype(np.int64).astype("m8[D]")


def _choice_codes(rng: np.random.Generator, n: int, p) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").astype(np.int16)


def _flag(rng: np.random.Generator, n: int, p) -> np.ndarray:
    return (rng.random(n) < p).astype(np.int16)


def _caseworkers(rng: np.random.Generator, n: int):
    """~1 caseworker per 200 cases (at least one per team); a caseworker is always in the same team."""
    count = max(len(TEAMS), int(round(n / 200)))
    digits = max(3, len(str(count)))
    # uneven caseloads: some caseworkers part-time
    weight = rng.uniform(0.6, 1.4, count)
    cw = _choice_codes(rng, n, weight).astype(np.int64) + 1
    team = ((cw - 1) % len(TEAMS)).astype(np.int16)
    return _IdCol("CW", cw, digits), _CatCol(team, TEAMS)


def _persons(rng: np.random.Generator, n: int, lo: int, hi: int) -> np.ndarray:
    if n > hi - lo:
        raise ValueError(f"too many rows for the person-id range ({n})")
    return lo + rng.choice(hi - lo, size=n, replace=False)


def _august_in_window(start: np.ndarray, days: int) -> np.ndarray:
    """True where [start, start + days] contains a day in August."""
    stop = start + np.timedelta64(days, "D")
    aug1 = (stop.astype("M8[Y]") + np.timedelta64(7, "M")).astype("M8[D]")
    return (stop >= aug1) & (start <= aug1 + np.timedelta64(30, "D"))


# --------------------------------------------------------------------------- assessments


# The SEND Regulations 2014 came into force on 1 September 2014 (reg 1): the rule book judges nothing
# earlier, and the importer refuses a request received or a plan made before it (ingest.validate). A
# generated caseload must import cleanly with its own end as the as-of date (design.md section 7), so
# nothing is generated before this day, and an end too close to it for a plan of 40 days is refused.
FIRST_DAY = dt.date(2014, 9, 1)
MIN_PLAN_DAYS = 40
EARLIEST_END = FIRST_DAY + dt.timedelta(days=MIN_PLAN_DAYS + 1)


def check_end(end: dt.date) -> None:
    """Refuse an end before any plan of the generated kind could have been made under the 2014 rules."""
    if end < EARLIEST_END:
        raise EhcpError(f"--end {end.isoformat()}: give a day from {EARLIEST_END:%d %B %Y} (nothing is generated "
                        f"before {FIRST_DAY:%d %B %Y}, when the SEND Regulations 2014 came into force)")


def _days_since_first(end: dt.date) -> int:
    return (end - FIRST_DAY).days


def _assessment_table(n: int, seed: int, end: dt.date, years: float = 2.0) -> _Table:
    if n < 0:
        raise ValueError("n must be >= 0")
    check_end(end)
    rng = np.random.default_rng([seed, 1])
    end_d = _day(end)
    # never a request before FIRST_DAY (the importer would refuse it): a shorter window near 2014
    span = max(1, min(int(round(years * 365.25)), _days_since_first(end) + 1))
    first = end_d - np.timedelta64(span - 1, "D")
    calendar = first + np.arange(span).astype("m8[D]")

    # --- request received: seasonal, growing, quieter at weekends
    month = calendar.astype("M8[M]").astype(np.int64) % 12
    weekday = (calendar.astype(np.int64) + 3) % 7  # Monday = 0
    weight = _SEASON[month] * (1 + _GROWTH) ** (np.arange(span) / 365.25)
    weight = weight * np.where(weekday >= 5, _WEEKEND, 1.0)
    received = np.sort(calendar[_choice_codes(rng, n, weight)])

    # --- decision whether to assess: ~87% within 6 weeks; some stuck for months
    kind = _choice_codes(rng, n, [0.703, 0.287, 0.010])  # 0 assess, 1 not_assess, 2 withdrawn
    late = rng.random(n) < 0.09
    stuck = rng.random(n) < 0.06
    decision_days = np.where(late, 43 + rng.exponential(22, n), rng.triangular(8, 38, 42, n))
    decision_days = np.where(stuck, 60 + rng.exponential(150, n), decision_days)
    decision_days = np.where(kind == 2, rng.uniform(4, 45, n), decision_days)
    decision_days = np.rint(decision_days).astype(np.int64)
    decision = received + decision_days.astype("m8[D]")
    decided = decision <= end_d
    outcome = np.where(decided, kind, -1).astype(np.int16)
    outcome_date = np.where(decided, decision, _NAT)
    assess = outcome == 0

    decision_exc = np.full(n, -1, np.int16)
    pick = (rng.random(n) < np.where(decision_days > 42, 0.05, 0.002)) & (outcome != 2)
    pick &= decided | (end_d - received > np.timedelta64(42, "D"))
    decision_exc[pick] = _choice_codes(rng, int(pick.sum()), [0.15, 0.05, 0.55, 0.25])
    decision_exc[outcome == 1] = -1  # never on a refusal: reg 4(1) gives it no exemption (after the draw: same stream)

    # --- advice: requested within days of the decision; ~6-week returns, some late or missing
    request_p = {"ep": 0.95, "health": 0.92, "social_care": 0.78, "education": 0.98}
    on_time_p = {"ep": 0.55, "health": 0.68, "social_care": 0.72, "education": 0.85}
    advice_req, advice_rec, advice_exc = {}, {}, {}
    for s in SERVICES:
        asked = assess & (rng.random(n) < request_p[s])
        req = decision + _days(rng.triangular(0, 1, 12, n))
        on_time = rng.random(n) < on_time_p[s]
        back = np.where(on_time, rng.triangular(10, 38, 42, n), 43 + rng.exponential(24, n))
        rec = req + _days(back)
        missing = rng.random(n) < 0.03
        exc = np.where(asked & (rng.random(n) < np.where(on_time, 0.004, 0.06)),
                       _choice_codes(rng, n, [0.4, 0.2, 0.4]), -1).astype(np.int16)
        advice_req[s] = np.where(asked, req, _NAT)
        advice_rec[s] = np.where(asked & ~missing, rec, _NAT)
        advice_exc[s] = exc

    stacked = np.stack([advice_rec[s] for s in SERVICES] + [advice_req[s] for s in SERVICES])
    last_advice = np.where(np.isnat(stacked), np.datetime64("1900-01-01"), stacked).max(axis=0)
    ready = np.maximum(last_advice, decision)

    # --- assessment outcome: ~10% not_issue; time to final plan on the national spread
    not_issue = rng.random(n) < 0.10
    band = _choice_codes(rng, n, _FINAL_BANDS)
    t_final = np.select(
        [band == 0, band == 1],
        [140 - np.minimum(rng.exponential(14, n), 50),
         141 + 223 * rng.beta(1.0, 3.2, n)],
        365 + np.minimum(rng.exponential(60, n), 330),
    )
    final = received + _days(t_final)
    gap_draft = 15 + np.minimum(rng.exponential(9, n), 40)
    gap_decide = rng.triangular(0, 2, 12, n)
    draft = final - _days(gap_draft)
    issue_date = draft - _days(gap_decide)
    # a plan cannot be decided before the decision to assess and the advice it rests on
    floor = ready + _days(rng.triangular(1, 4, 14, n))
    push = np.maximum(floor - issue_date, np.timedelta64(0, "D"))
    issue_date, draft, final = issue_date + push, draft + push, final + push

    t_no_plan = np.where(rng.random(n) < 0.5, rng.uniform(70, 112, n), 113 + rng.exponential(60, n))
    no_plan_date = np.maximum(received + _days(t_no_plan), floor)

    ao_date = np.where(not_issue, no_plan_date, issue_date)
    draft = np.where(not_issue, _NAT, draft)
    final = np.where(not_issue, _NAT, final)

    # --- withdrawn or moved away during the assessment
    leave = np.where(assess, _choice_codes(rng, n, [0.965, 0.025, 0.010]), 0)
    room = (np.where(not_issue, ao_date, final) - decision).astype(np.int64) - 8
    leave_at = decision + _days(7 + rng.random(n) * np.maximum(room, 0))
    closed = np.where(leave > 0, leave_at, _NAT)
    closed = np.where(closed > end_d, _NAT, closed)
    leaving = ~np.isnat(closed)

    # apply the as-of date and the closure to every assessment stage
    cut = np.where(leaving, closed, end_d)
    for s in SERVICES:
        advice_req[s] = np.where(assess, _nat_after(advice_req[s], cut), _NAT)
        advice_rec[s] = np.where(np.isnat(advice_req[s]), _NAT, _nat_after(advice_rec[s], cut))
        advice_exc[s] = np.where(np.isnat(advice_req[s]), -1, advice_exc[s]).astype(np.int16)
    ao_date = np.where(assess, _nat_after(ao_date, cut), _NAT)
    a_outcome = np.where(np.isnat(ao_date), -1, np.where(not_issue, 1, 0)).astype(np.int16)
    draft = np.where(a_outcome == 0, _nat_after(draft, cut), _NAT)
    final = np.where(np.isnat(draft), _NAT, _nat_after(final, cut))

    # --- 20-week exceptions: ~7% of plans, mostly the late ones; closures only over a summer
    final_days = (final - received).astype(np.int64)
    open_overdue = assess & np.isnat(ao_date) & ~leaving & ((end_d - received) > np.timedelta64(140, "D"))
    p_exc = np.select(
        [~np.isnat(final) & (final_days > 140), ~np.isnat(final), open_overdue, a_outcome == 1],
        [0.11, 0.025, 0.06, 0.04], 0.0)
    has_exc = rng.random(n) < p_exc
    exc = _choice_codes(rng, n, [0.30, 0.08, 0.42, 0.20])
    summer = _august_in_window(received, 140)
    exc = np.where((exc <= 1) & ~summer, 2, exc)
    exception = np.where(has_exc, exc, -1).astype(np.int16)
    # a closure exemption needs the request for advice from the school (reg 10(4)(a)/(b)): without one
    # the claim is personal circumstances (after the draws: the same random stream)
    no_school_request = np.isnat(advice_req["education"])
    exception = np.where((exception >= 0) & (exception <= 1) & no_school_request, 2, exception).astype(np.int16)
    decision_exc = np.where((decision_exc >= 0) & (decision_exc <= 1) & no_school_request, 2,
                            decision_exc).astype(np.int16)

    # --- closure: withdrawn requests, finished cases (most), leavers
    r = rng.random(n)
    shut = np.full(n, _NAT)
    reason = np.full(n, -1, np.int16)
    sel = outcome == 2
    shut[sel], reason[sel] = outcome_date[sel], 3
    sel = (outcome == 1) & (r < 0.9)
    shut[sel], reason[sel] = outcome_date[sel] + _days(rng.uniform(0, 7, int(sel.sum()))), 1
    sel = (a_outcome == 1) & (r < 0.9)
    shut[sel], reason[sel] = ao_date[sel] + _days(rng.uniform(0, 14, int(sel.sum()))), 2
    sel = ~np.isnat(final) & (r < 0.85)
    shut[sel], reason[sel] = final[sel] + _days(rng.triangular(0, 0, 21, int(sel.sum()))), 0
    too_late = shut > end_d
    shut[too_late], reason[too_late] = _NAT, -1
    shut[leaving] = closed[leaving]
    reason[leaving] = np.where(leave[leaving] == 1, 3, 4)

    # --- people: ids, a few repeat requests after an earlier refusal
    person = _persons(rng, n, *_ASSESSMENT_PERSONS)
    refused = np.flatnonzero(outcome == 1)
    if refused.size:
        repeat = rng.random(n) < 0.08
        limit = np.searchsorted(received[refused], received - np.timedelta64(180, "D"), side="left")
        repeat &= limit > 0
        src = refused[np.minimum((rng.random(n) * limit).astype(np.int64), np.maximum(limit - 1, 0))]
        person = np.where(repeat, person[src], person)

    caseworker, team = _caseworkers(rng, n)
    cols: dict[str, _Col] = {
        "request_id": _IdCol("R", np.arange(1, n + 1), max(7, len(str(n)))),
        "person_id": _IdCol("P", person, 7),
        "request_received": _DateCol(received),
        "caseworker": caseworker,
        "team": team,
        "request_outcome": _CatCol(outcome, ("assess", "not_assess", "withdrawn")),
        "request_outcome_date": _DateCol(outcome_date),
    }
    for s in SERVICES:
        cols[f"{s}_advice_requested"] = _DateCol(advice_req[s])
        cols[f"{s}_advice_received"] = _DateCol(advice_rec[s])
    cols["assessment_outcome"] = _CatCol(a_outcome, ("issue", "not_issue"))
    cols["assessment_outcome_date"] = _DateCol(ao_date)
    cols["draft_plan_issued"] = _DateCol(draft)
    cols["final_plan_issued"] = _DateCol(final)
    cols["exception_reason"] = _CatCol(exception, EXCEPTIONS_20W)
    cols["decision_exception"] = _CatCol(decision_exc, EXCEPTIONS_20W)
    for s in SERVICES:
        cols[f"{s}_advice_exception"] = _CatCol(advice_exc[s], EXCEPTIONS_ADVICE)
    cols["closed_date"] = _DateCol(shut)
    cols["closed_reason"] = _CatCol(reason, CLOSED_REASONS)
    for name, p in zip(FLAGS, (0.045, 0.012, 0.10, 0.03)):
        cols[name] = _CatCol(_flag(rng, n, p), ("no", "yes"))
    assert list(cols) == ASSESSMENT_COLUMNS
    return _Table(cols, n)


# --------------------------------------------------------------------------- reviews


def _academic_year_start(d: np.ndarray) -> np.ndarray:
    """Calendar year in which the academic year containing ``d`` began (September to August)."""
    year = d.astype("M8[Y]").astype(np.int64) + 1970
    month = d.astype("M8[M]").astype(np.int64) % 12 + 1
    return np.where(month >= 9, year, year - 1)


def _amendments(rng, notified, decision, end_d):
    """Amendment notice (mostly with the decision, Devon) and amended plan (about 55% in 8 weeks)."""
    k = notified.shape[0]
    notice = notified + _days(np.where(rng.random(k) < 0.6, 0, rng.uniform(1, 28, k)))
    notice = np.where((decision == 1) & (rng.random(k) >= 0.04) & (notice <= end_d), notice, _NAT)
    amended = notice + _days(np.where(rng.random(k) < 0.55, rng.uniform(21, 56, k),
                                      57 + rng.exponential(40, k)))
    amended = np.where(np.isnat(notice) | (amended > end_d), _NAT, amended)
    return notice, amended


def _review_table(m: int, seed: int, end: dt.date) -> _Table:
    """``m`` review rows: the current review cycle of each plan, and for about 30% of the plans
    also the previous (concluded) review, whose decision letter is the current row's last_review."""
    if m < 0:
        raise ValueError("m must be >= 0")
    check_end(end)
    rng = np.random.default_rng([seed, 2])
    end_d = _day(end)
    day = np.timedelta64(1, "D")
    year = np.timedelta64(364, "D")  # "12 months starting with" ends the day before the anniversary

    # ---- one candidate plan per row; some become two rows (previous + current review) below
    ncy = np.arange(-1, 15)[_choice_codes(rng, m, _NCY_WEIGHTS)]
    # plan made some time after age 2, more recent plans more common (caseload growth)
    max_age = np.clip((ncy + 3.5) * 365, 240, 12 * 365)
    # and never before FIRST_DAY (a day to spare: _days rounds); binds only for an end before 2026-09
    max_age = np.minimum(max_age, _days_since_first(end) - 1)
    plan_age = MIN_PLAN_DAYS + (max_age - MIN_PLAN_DAYS) * rng.beta(1.1, 1.9, m)
    plan_issued = end_d - _days(plan_age)

    # the current cycle starts at the later of the plan and the last review (decision letter)
    overdue = rng.random(m) < 0.12
    anchor_age = np.where(overdue, 366 + rng.exponential(90, m), rng.uniform(0, 365, m))
    later_cycle = plan_age > 400
    anchor_age = np.where(later_cycle, np.minimum(anchor_age, plan_age - 200), plan_age)
    history_missing = later_cycle & (rng.random(m) < 0.03)
    anchor_age = np.where(history_missing, plan_age, anchor_age)
    last_review = np.where(later_cycle & ~history_missing, end_d - _days(anchor_age), _NAT)
    last_review = np.where(last_review <= plan_issued, plan_issued + day, last_review)
    anchor = np.where(np.isnat(last_review), plan_issued, last_review)
    due = anchor + year

    # meetings: most a few weeks before the anniversary; overdue cycles late or not yet held
    meeting = anchor + _days(365 - rng.triangular(7, 30, 80, m))
    overdue_days = np.maximum((end_d - due).astype(np.int64), 1)
    late_meeting = due + _days(1 + rng.random(m) * np.minimum(overdue_days, 150))
    meeting = np.where(due < end_d, np.where(rng.random(m) < 0.5, late_meeting, _NAT), meeting)
    meeting = np.where((meeting > end_d) | history_missing, _NAT, meeting)

    # decision: about half of the recorded ones within 4 weeks of the meeting (more than half are
    # drawn late because recent late decisions are not recorded yet at `end`); a few never recorded
    delay = np.where(rng.random(m) < 0.66, 29 + rng.exponential(30, m), rng.uniform(4, 28, m))
    notified = meeting + _days(delay)
    notified = np.where((notified > end_d) | (rng.random(m) < 0.04), _NAT, notified)
    p_cease = np.where(ncy >= 13, 0.35, np.where(ncy == 12, 0.12, 0.05))
    u = rng.random(m)
    decision = np.where(u < p_cease, 2, np.where(u < p_cease + 0.55, 1, 0))
    decision = np.where(np.isnat(notified), -1, decision).astype(np.int16)
    notice, amended = _amendments(rng, notified, decision, end_d)
    ceased = notified + _days(rng.uniform(14, 60, m))
    ceased = np.where((decision == 2) & (ceased <= end_d), ceased, _NAT)

    # phase transfer: mostly derived later from ncy; some explicit; post-16 moves with a date
    phase = np.full(m, -1, np.int16)
    u = rng.random(m)
    phase[(ncy == 6) & (u < 0.10)] = 1
    phase[(ncy == 2) & (u < 0.05)] = 1
    phase[(ncy == 11) & (u < 0.10)] = 2
    phase[~np.isin(ncy, (2, 6, 11)) & (u < 0.04)] = 0
    move = np.isin(ncy, (12, 13)) & (rng.random(m) < 0.08)
    phase[move] = 3
    transfer = np.where(move, end_d - _days(rng.uniform(0, 300, m)), _NAT)
    transfer = np.maximum(transfer, _day(FIRST_DAY))  # NaT stays NaT; binds only for an end before July 2015

    # the year group is that of the academic year in which the review falls due; about 15% of
    # rows give a (derived, synthetic) date of birth instead
    by_dob = rng.random(m) < 0.15
    born = _academic_year_start(due) - ncy - 5  # born 1 Sep `born` .. 31 Aug `born` + 1
    sept1 = (born - 1970).astype("M8[Y]").astype("M8[M]") + np.timedelta64(8, "M")
    dob = np.where(by_dob, sept1.astype("M8[D]") + _days(rng.uniform(0, 364.99, m)), _NAT)

    late_review = np.isnat(meeting) & (due < end_d) | (~np.isnat(meeting) & (meeting > due))
    # The review clocks have no exemptions in law (CFA 2014 s44, regs 18, 20-22; only the 2020
    # coronavirus relaxation, long past): no exception is recorded. The draws stay so that every
    # later number of the seeded stream (persons, caseworkers, flags) is what it was.
    rng.random(m), _choice_codes(rng, m, [0.6, 0.4])
    exc = np.full(m, -1, np.int16)

    person = _persons(rng, m, *_REVIEW_PERSONS)
    caseworker, team = _caseworkers(rng, m)
    youth = (rng.random(m) < 0.03) & (ncy >= 8)
    flags = {
        "looked_after": _flag(rng, m, 0.05),
        "youth_justice": youth.astype(np.int16),
        "camhs": _flag(rng, m, 0.12),
        "placed_out_of_area": _flag(rng, m, 0.06),
    }

    # ---- the previous review of a plan, concluded by the letter that is now its last_review
    prev_last = last_review - _days(rng.uniform(330, 420, m))
    prev_last = np.where(prev_last > plan_issued + np.timedelta64(150, "D"), prev_last, _NAT)
    prev_anchor = np.where(np.isnat(prev_last), plan_issued, prev_last)
    prev_due = prev_anchor + year
    prev_ncy = _academic_year_start(prev_due) - born - 5
    room = np.maximum((last_review - prev_anchor).astype(np.int64) - 1, 1)
    prev_delay = np.where(rng.random(m) < 0.52, 29 + rng.exponential(30, m), rng.uniform(4, 28, m))
    prev_meeting = last_review - _days(np.minimum(prev_delay, room))
    u = rng.random(m)
    p_cease = np.where(prev_ncy >= 12, 0.25, 0.03)
    prev_decision = np.where(u < p_cease, 2, np.where(u < p_cease + 0.56, 1, 0)).astype(np.int16)
    prev_notice, prev_amended = _amendments(rng, last_review, prev_decision, end_d)
    prev_ceased = last_review + _days(rng.uniform(14, 60, m))
    prev_ceased = np.where((prev_decision == 2) & (prev_ceased <= end_d), prev_ceased, _NAT)
    rng.random(m), _choice_codes(rng, m, [0.6, 0.4])  # no review exceptions (see above); stream kept
    prev_exc = np.full(m, -1, np.int16)

    # ---- choose the plans with a previous-review row (h of them); a plan ceased at that review
    # has no current row; the other plans have one row each, m rows in all
    eligible = ~np.isnat(last_review) & (prev_ncy >= -1) & (prev_meeting >= prev_anchor)
    shuffled = rng.permutation(m)
    pool = shuffled[eligible[shuffled]]
    h = min(int(round(0.3 * m)), pool.size, m // 2)
    paired = pool[:h]
    is_paired = np.zeros(m, bool)
    is_paired[paired] = True
    still_open = paired[prev_decision[paired] != 2]
    singles = shuffled[~is_paired[shuffled]][: m - h - still_open.size]
    cur = np.sort(np.concatenate([still_open, singles]))
    prev = np.sort(paired)

    def both(current, previous):
        return np.concatenate([current[cur], previous[prev]])

    # From a second stream (so the first is unchanged): the review procedure dates of regs 20/21 for
    # about half the meetings (notice and advice mostly 2 weeks ahead, report mostly within 2 weeks),
    # and plans transferred in from another council during the cycle (reg 15, about 2%).
    extra = np.random.default_rng([seed, 3])

    def procedure(meetings, low, high, share):
        dates = meetings + _days(extra.uniform(low, high, m))
        return np.where(np.isnat(meetings) | (extra.random(m) >= share) | (dates > end_d), _NAT, dates)

    notice_sent, prev_notice_sent = procedure(meeting, -30, -10, 0.5), procedure(prev_meeting, -30, -10, 0.5)
    circulated, prev_circulated = procedure(meeting, -25, -8, 0.45), procedure(prev_meeting, -25, -8, 0.45)
    report, prev_report = procedure(meeting, 2, 24, 0.5), procedure(prev_meeting, 2, 24, 0.5)
    moved_in = anchor + _days(extra.uniform(1, 300, m))
    moved_in = np.where((extra.random(m) < 0.02) & (moved_in <= end_d), moved_in, _NAT)

    blank_dates = np.full(m, _NAT)
    blank_codes = np.full(m, -1, np.int16)
    rows = {
        "plan_issued": both(plan_issued, plan_issued),
        "last_review": both(last_review, prev_last),
        "ncy": both(np.where(by_dob, -99, ncy), np.where(by_dob, -99, prev_ncy)),
        # these rows give the year group of the academic year in which each review falls due, and say so
        "ncy_academic_year": both(np.where(by_dob, -99, _academic_year_start(due)),
                                  np.where(by_dob, -99, _academic_year_start(prev_due))),
        "date_of_birth": both(dob, dob),
        "phase_transfer": both(phase, blank_codes),
        "transfer_date": both(transfer, blank_dates),
        "transferred_in": both(moved_in, blank_dates),
        "meeting_notice_sent": both(notice_sent, prev_notice_sent),
        "advice_circulated": both(circulated, prev_circulated),
        "review_meeting": both(meeting, prev_meeting),
        "review_report_sent": both(report, prev_report),
        "decision_notified": both(notified, last_review),
        "decision": both(decision, prev_decision),
        "amendment_notice_sent": both(notice, prev_notice),
        "amended_plan_issued": both(amended, prev_amended),
        "ceased_date": both(ceased, prev_ceased),
        "exception_reason": both(exc, prev_exc),
    }
    plan_of = np.concatenate([cur, prev])
    # review ids in order of the cycle start (the previous review before the current one)
    order = np.lexsort((plan_of, np.concatenate([anchor[cur], prev_anchor[prev]])))
    plan_of = plan_of[order]
    rows = {k: v[order] for k, v in rows.items()}

    cols: dict[str, _Col] = {
        "review_id": _IdCol("AR", np.arange(1, m + 1), max(7, len(str(m)))),
        "person_id": _IdCol("P", person[plan_of], 7),
        "caseworker": _IdCol("CW", caseworker.numbers[plan_of], caseworker.digits),
        "team": _CatCol(team.codes[plan_of], TEAMS),
        "plan_issued": _DateCol(rows["plan_issued"]),
        "last_review": _DateCol(rows["last_review"]),
        "ncy": _IntCol(rows["ncy"], -1, 14),
        "ncy_academic_year": _IntCol(rows["ncy_academic_year"], 2000, 2100),
        "date_of_birth": _DateCol(rows["date_of_birth"]),
        "phase_transfer": _CatCol(rows["phase_transfer"], ("none", "school", "post16", "post16_move")),
        "transfer_date": _DateCol(rows["transfer_date"]),
        "transferred_in": _DateCol(rows["transferred_in"]),
        "meeting_notice_sent": _DateCol(rows["meeting_notice_sent"]),
        "advice_circulated": _DateCol(rows["advice_circulated"]),
        "review_meeting": _DateCol(rows["review_meeting"]),
        "review_report_sent": _DateCol(rows["review_report_sent"]),
        "decision_notified": _DateCol(rows["decision_notified"]),
        "decision": _CatCol(rows["decision"], ("maintain", "amend", "cease")),
        "amendment_notice_sent": _DateCol(rows["amendment_notice_sent"]),
        "amended_plan_issued": _DateCol(rows["amended_plan_issued"]),
        "ceased_date": _DateCol(rows["ceased_date"]),
        "exception_reason": _CatCol(rows["exception_reason"], EXCEPTIONS_20W),
    }
    for name in FLAGS:
        cols[name] = _CatCol(flags[name][plan_of], ("no", "yes"))
    assert list(cols) == REVIEW_COLUMNS
    return _Table(cols, m)


# --------------------------------------------------------------------------- public API


def generate_assessments(n: int, seed: int, end: dt.date, years: float = 2.0) -> pd.DataFrame:
    """``n`` synthetic assessment requests received over the ``years`` before ``end`` (as-of date).

    Columns are ``ASSESSMENT_COLUMNS``; dates are ``datetime.date`` (``None`` when blank), codes and
    flags are strings (``None`` when blank).
    """
    return _assessment_table(n, seed, end, years).frame()


def generate_reviews(m: int, seed: int, end: dt.date) -> pd.DataFrame:
    """``m`` synthetic annual reviews (one current review cycle per plan) as of ``end``.

    Columns are ``REVIEW_COLUMNS``; ``ncy`` is a nullable integer (blank where ``date_of_birth``
    is given instead).
    """
    return _review_table(m, seed, end).frame()


def write_extracts(directory, requests: int, reviews: int, seed: int, end: dt.date,
                   years: float = 2.0) -> dict[str, Path]:
    """Write ``assessments.csv`` and ``reviews.csv`` (UTF-8, ISO dates, blank = missing, yes/no)."""
    check_end(end)  # before anything is made
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {"assessments": directory / "assessments.csv", "reviews": directory / "reviews.csv"}
    _assessment_table(requests, seed, end, years).write_csv(paths["assessments"])
    _review_table(reviews, seed, end).write_csv(paths["reviews"])
    return paths


# --------------------------------------------------------------------------- sample data

# Hand-written edge rows appended to the sample (as-of 2026-10-30) so that it exercises every path
# of the clock engine. Ids start R9 / AR9 and persons P9; every row obeys the import invariants.
#
# Assessments (20-week clock due = received + 140 days; decision 42; advice 42 from the request;
# no-plan notice 112):
#   R9000001 decision on day 42 (on time, at the limit); all advice on time (EP on day 42 exactly);
#            final plan on day 140 exactly (on time); closed plan_issued
#   R9000002 decision on day 43 (late); EP advice on day 43 (late by one), health late;
#            final plan on day 141 (late by one day)
#   R9000003 advice exceptions: EP missed_appointment, health personal_circumstances,
#            social care absence_from_area (all late); education on time; final late, no exception
#   R9000004 open and overdue: advice late (health, education), social care never returned
#   R9000005..08 final plan late with each 20-week exception: school_closure (advice asked just
#            before the summer closure), early_years_closure, personal_circumstances,
#            absence_from_area
#   R9000009 request withdrawn before the decision (closed withdrawn)
#   R9000010 not_assess on time; R9000011 not_assess late (day 55)
#   R9000012 not_issue on day 112 (on time, at the limit); R9000013 not_issue on day 113 (late)
#   R9000014 assessment open and overdue (received 298 days before the as-of date)
#   R9000015 open, final plan due in 5 days (draft sent): due soon
#   R9000016 decision not made, overdue; R9000017 decision not made, due in 4 days
#   R9000018 closed during the assessment: moved_away (nothing recorded after the closure)
#   R9000019 withdrawn during the assessment (closed withdrawn, advice outstanding at closure)
#   R9000020 late decision (day 60) with decision_exception personal_circumstances
#   R9000021 2020 case: final plan late with exception coronavirus (due 3 Aug 2020, inside the
#            1 May - 25 Sep 2020 window)
#   R9000022 EP advice outstanding, due in 3 days; R9000023 EP advice outstanding and overdue
#   R9000024 every flag yes; on-time plan
#   R9000025 not_issue late with exception personal_circumstances
#   R9000026 second request by P9000010 (refused in R9000010), now being assessed
#   R9000027 final plan due on the as-of date itself, plan not issued yet
#
# Reviews (annual review due = anniversary of the later of plan_issued / last_review, minus a day;
# decision 4 weeks after the meeting; amended plan 8 weeks after the notice; phase transfer
# before 15 Feb (school) / 31 Mar (post16) of the transfer year; post16_move 5 months before):
#   AR9000001 maintain, all on time           AR9000002 amend, notice and amended plan on time
#   AR9000003 amend, amended plan late        AR9000004 amend, decision and notice late (Devon)
#   AR9000005 cease (year 14)                 AR9000006 meeting held, decision missing (overdue)
#   AR9000007 review overdue, no meeting      AR9000008 review due in 10 days, no meeting
#   AR9000009 late review (meeting after the anniversary)
#   AR9000010 year 6 in 2025/26, amended plan before 15 Feb 2026 (met; phase_transfer derived)
#   AR9000011 year 6 in 2025/26, amended plan after 15 Feb 2026 (late; phase_transfer school)
#   AR9000012 year 11 in 2025/26, amended plan before 31 Mar 2026 (met)
#   AR9000013 year 11 in 2025/26, amended plan after 31 Mar 2026 (late)
#   AR9000014 year 6 in 2026/27, review not yet held (phase transfer due Feb 2027)
#   AR9000015 year 11 in 2026/27, meeting held, decision due soon
#   AR9000016 post16_move (transfer 7 Sep 2026), amended plan before 7 Apr 2026 (met)
#   AR9000017 post16_move (transfer 13 Apr 2026), amended plan late
#   AR9000018 date_of_birth instead of ncy (year 6 in 2026/27)
#   AR9000019 date_of_birth instead of ncy (year 11 in 2025/26), amended plan on time
#   AR9000020 plan transferred in on 19 Jan 2026 (reg 15(5)): review due 18 Apr 2026, not 2 Mar; late
#   AR9000021 first review of a new plan (no last_review), due in 3 days
#   AR9000022 year 6 with phase_transfer none (all-through school)
#   AR9000023 amend decided, amendment notice not yet sent (Devon: decision still running)
#   AR9000024 review procedure: notice on time, advice circulated late, report late (regs 20/21)
#   AR9000025 N2 (year -1) in 2025/26: early years -> Reception, amended plan before 15 Feb 2026
#   AR9000026 year 6 in 2025/26, transfer review ends "maintain": a query (reg 18 names the school)
#   AR9000027, AR9000028 one child (P9000027), year 6 in 2025/26: the Year 5 review in July 2025 is
#            not the transfer review; the transfer (before 15 Feb 2026) is overdue on AR9000028

_BLANK_FLAGS = {f: "no" for f in FLAGS}


def _a(rid: str, cw: str, team: str, received: str, **fields) -> dict:
    row = {c: None for c in ASSESSMENT_COLUMNS}
    row.update(request_id=rid, person_id="P" + rid[1:], request_received=received,
               caseworker=cw, team=team, **_BLANK_FLAGS)
    row.update(fields)
    return row


def _r(rid: str, cw: str, team: str, plan: str, ncy, **fields) -> dict:
    row = {c: None for c in REVIEW_COLUMNS}
    row.update(review_id=rid, person_id="P9" + rid[3:], caseworker=cw, team=team, plan_issued=plan,
               ncy=ncy, **_BLANK_FLAGS)
    row.update(fields)
    return row


def _advice(requested: str, **received) -> dict:
    """All four services asked on ``requested``; ``received`` maps service -> date (or None)."""
    out = {}
    for s in SERVICES:
        out[f"{s}_advice_requested"] = requested
        out[f"{s}_advice_received"] = received.get(s)
    return out


EDGE_ASSESSMENTS = [
    _a("R9000001", "CW001", "South", "2025-06-02", request_outcome="assess",
       request_outcome_date="2025-07-14",
       **_advice("2025-07-15", ep="2025-08-26", health="2025-08-14", social_care="2025-08-19",
                 education="2025-08-05"),
       assessment_outcome="issue", assessment_outcome_date="2025-09-29",
       draft_plan_issued="2025-10-01", final_plan_issued="2025-10-20",
       closed_date="2025-10-20", closed_reason="plan_issued"),
    _a("R9000002", "CW002", "East", "2025-06-03", request_outcome="assess",
       request_outcome_date="2025-07-16",
       **_advice("2025-07-17", ep="2025-08-29", health="2025-09-05", social_care="2025-08-20",
                 education="2025-08-07"),
       assessment_outcome="issue", assessment_outcome_date="2025-09-30",
       draft_plan_issued="2025-10-01", final_plan_issued="2025-10-22",
       closed_date="2025-10-24", closed_reason="plan_issued"),
    _a("R9000003", "CW003", "West", "2025-04-07", request_outcome="assess",
       request_outcome_date="2025-05-12",
       **_advice("2025-05-13", ep="2025-07-22", health="2025-07-12", social_care="2025-07-07",
                 education="2025-05-27"),
       ep_advice_exception="missed_appointment", health_advice_exception="personal_circumstances",
       social_care_advice_exception="absence_from_area",
       assessment_outcome="issue", assessment_outcome_date="2025-08-04",
       draft_plan_issued="2025-08-06", final_plan_issued="2025-09-14"),
    _a("R9000004", "CW004", "North", "2026-03-02", request_outcome="assess",
       request_outcome_date="2026-04-10",
       **_advice("2026-04-13", ep="2026-05-20", health="2026-06-15", social_care=None,
                 education="2026-06-01")),
    _a("R9000005", "CW001", "South", "2025-04-14", request_outcome="assess",
       request_outcome_date="2025-05-22",
       **_advice("2025-07-14", ep="2025-08-22", health="2025-08-20", social_care="2025-08-15",
                 education="2025-09-12"),
       exception_reason="school_closure",
       assessment_outcome="issue", assessment_outcome_date="2025-09-17",
       draft_plan_issued="2025-09-18", final_plan_issued="2025-10-01",
       closed_date="2025-10-01", closed_reason="plan_issued"),
    _a("R9000006", "CW002", "East", "2025-04-22", request_outcome="assess",
       request_outcome_date="2025-05-30",
       **_advice("2025-07-11", ep="2025-08-20", health="2025-08-18", social_care="2025-08-12",
                 education="2025-09-09"),
       exception_reason="early_years_closure",
       assessment_outcome="issue", assessment_outcome_date="2025-09-12",
       draft_plan_issued="2025-09-15", final_plan_issued="2025-10-04"),
    _a("R9000007", "CW003", "West", "2025-01-13", request_outcome="assess",
       request_outcome_date="2025-02-21",
       **_advice("2025-02-24", ep="2025-04-30", health="2025-04-01", social_care="2025-03-28",
                 education="2025-03-10"),
       exception_reason="personal_circumstances",
       assessment_outcome="issue", assessment_outcome_date="2025-06-20",
       draft_plan_issued="2025-06-23", final_plan_issued="2025-08-01",
       closed_date="2025-08-01", closed_reason="plan_issued"),
    _a("R9000008", "CW004", "North", "2025-02-03", request_outcome="assess",
       request_outcome_date="2025-03-14",
       **_advice("2025-03-17", ep="2025-04-25", health="2025-05-30", social_care="2025-04-22",
                 education="2025-04-07"),
       exception_reason="absence_from_area",
       assessment_outcome="issue", assessment_outcome_date="2025-06-30",
       draft_plan_issued="2025-07-02", final_plan_issued="2025-08-02"),
    _a("R9000009", "CW001", "South", "2025-09-01", request_outcome="withdrawn",
       request_outcome_date="2025-09-20", closed_date="2025-09-20", closed_reason="withdrawn"),
    _a("R9000010", "CW002", "East", "2025-10-06", request_outcome="not_assess",
       request_outcome_date="2025-11-13", closed_date="2025-11-14", closed_reason="not_assess"),
    _a("R9000011", "CW003", "West", "2025-10-07", request_outcome="not_assess",
       request_outcome_date="2025-12-01", closed_date="2025-12-01", closed_reason="not_assess"),
    _a("R9000012", "CW004", "North", "2025-11-03", request_outcome="assess",
       request_outcome_date="2025-12-12",
       **_advice("2025-12-15", ep="2026-01-23", health="2026-01-20", social_care="2026-01-16",
                 education="2026-01-05"),
       assessment_outcome="not_issue", assessment_outcome_date="2026-02-23",
       closed_date="2026-02-23", closed_reason="not_issue"),
    _a("R9000013", "CW001", "South", "2025-11-04", request_outcome="assess",
       request_outcome_date="2025-12-12",
       **_advice("2025-12-15", ep="2026-01-26", health="2026-01-20", social_care="2026-01-16",
                 education="2026-01-05"),
       assessment_outcome="not_issue", assessment_outcome_date="2026-02-25"),
    _a("R9000014", "CW002", "East", "2026-01-05", request_outcome="assess",
       request_outcome_date="2026-02-13",
       **_advice("2026-02-16", ep="2026-03-27", health="2026-03-20", social_care="2026-03-25",
                 education="2026-03-02")),
    _a("R9000015", "CW003", "West", "2026-06-17", request_outcome="assess",
       request_outcome_date="2026-07-28",
       **_advice("2026-07-29", ep="2026-09-04", health="2026-09-08", social_care="2026-08-28",
                 education="2026-08-12"),
       assessment_outcome="issue", assessment_outcome_date="2026-10-12",
       draft_plan_issued="2026-10-14"),
    _a("R9000016", "CW004", "North", "2026-09-01"),
    _a("R9000017", "CW001", "South", "2026-09-22"),
    _a("R9000018", "CW002", "East", "2026-02-02", request_outcome="assess",
       request_outcome_date="2026-03-04",
       ep_advice_requested="2026-03-05", ep_advice_received="2026-04-10",
       health_advice_requested="2026-03-05", education_advice_requested="2026-03-05",
       closed_date="2026-04-15", closed_reason="moved_away"),
    _a("R9000019", "CW003", "West", "2026-04-13", request_outcome="assess",
       request_outcome_date="2026-05-20",
       **_advice("2026-05-21", education="2026-06-10"),
       closed_date="2026-06-19", closed_reason="withdrawn"),
    _a("R9000020", "CW004", "North", "2025-12-01", request_outcome="assess",
       request_outcome_date="2026-01-30", decision_exception="personal_circumstances",
       **_advice("2026-02-02", ep="2026-03-13", health="2026-03-10", social_care="2026-03-06",
                 education="2026-02-20"),
       assessment_outcome="issue", assessment_outcome_date="2026-04-10",
       draft_plan_issued="2026-04-13", final_plan_issued="2026-05-01",
       closed_date="2026-05-01", closed_reason="plan_issued"),
    _a("R9000021", "CW001", "South", "2020-03-16", request_outcome="assess",
       request_outcome_date="2020-04-24",
       **_advice("2020-04-27", ep="2020-07-03", health="2020-07-20", social_care="2020-06-05",
                 education="2020-05-29"),
       exception_reason="coronavirus",
       assessment_outcome="issue", assessment_outcome_date="2020-08-10",
       draft_plan_issued="2020-08-12", final_plan_issued="2020-09-10",
       closed_date="2020-09-10", closed_reason="plan_issued"),
    _a("R9000022", "CW002", "East", "2026-08-10", request_outcome="assess",
       request_outcome_date="2026-09-18",
       **_advice("2026-09-21", ep=None, health="2026-10-19", social_care="2026-10-23",
                 education="2026-10-05")),
    _a("R9000023", "CW003", "West", "2026-06-22", request_outcome="assess",
       request_outcome_date="2026-07-31",
       **_advice("2026-08-03", ep=None, health="2026-09-10", social_care="2026-09-07",
                 education="2026-08-20")),
    _a("R9000024", "CW004", "North", "2025-03-03", request_outcome="assess",
       request_outcome_date="2025-04-07",
       **_advice("2025-04-08", ep="2025-05-16", health="2025-05-13", social_care="2025-05-09",
                 education="2025-04-25"),
       assessment_outcome="issue", assessment_outcome_date="2025-06-16",
       draft_plan_issued="2025-06-18", final_plan_issued="2025-07-14",
       closed_date="2025-07-14", closed_reason="plan_issued",
       looked_after="yes", youth_justice="yes", camhs="yes", placed_out_of_area="yes"),
    _a("R9000025", "CW001", "South", "2025-05-06", request_outcome="assess",
       request_outcome_date="2025-06-13",
       **_advice("2025-06-16", ep="2025-08-22", health="2025-07-25", social_care="2025-07-21",
                 education="2025-07-02"),
       exception_reason="personal_circumstances",
       assessment_outcome="not_issue", assessment_outcome_date="2025-09-26",
       closed_date="2025-09-26", closed_reason="not_issue"),
    _a("R9000026", "CW002", "East", "2026-05-05", person_id="P9000010", request_outcome="assess",
       request_outcome_date="2026-06-12",
       **_advice("2026-06-15", ep="2026-07-24", health="2026-07-20", social_care="2026-07-10",
                 education="2026-06-29"),
       assessment_outcome="issue", assessment_outcome_date="2026-09-07",
       draft_plan_issued="2026-09-09", final_plan_issued="2026-09-22",
       closed_date="2026-09-22", closed_reason="plan_issued"),
    _a("R9000027", "CW003", "West", "2026-06-12", request_outcome="assess",
       request_outcome_date="2026-07-20",
       **_advice("2026-07-21", ep="2026-08-28", health="2026-08-31", social_care="2026-08-25",
                 education="2026-08-07"),
       assessment_outcome="issue", assessment_outcome_date="2026-10-09",
       draft_plan_issued="2026-10-12"),
]

EDGE_REVIEWS = [
    _r("AR9000001", "CW001", "South", "2022-03-14", 4, last_review="2025-11-20",
       review_meeting="2026-10-01", decision_notified="2026-10-20", decision="maintain"),
    _r("AR9000002", "CW002", "East", "2021-05-10", 8, last_review="2025-03-10",
       review_meeting="2026-02-24", decision_notified="2026-03-10", decision="amend",
       amendment_notice_sent="2026-03-10", amended_plan_issued="2026-04-28"),
    _r("AR9000003", "CW003", "West", "2020-09-07", 9, last_review="2025-01-15",
       review_meeting="2025-12-10", decision_notified="2025-12-22", decision="amend",
       amendment_notice_sent="2025-12-22", amended_plan_issued="2026-03-02"),
    _r("AR9000004", "CW004", "North", "2023-02-06", 3, last_review="2025-02-03",
       review_meeting="2026-01-14", decision_notified="2026-02-25", decision="amend",
       amendment_notice_sent="2026-03-04", amended_plan_issued="2026-04-20"),
    _r("AR9000005", "CW001", "South", "2016-06-13", 14, last_review="2025-06-16",
       review_meeting="2026-05-20", decision_notified="2026-06-03", decision="cease",
       ceased_date="2026-07-31"),
    _r("AR9000006", "CW002", "East", "2019-10-14", 7, last_review="2025-09-01",
       review_meeting="2026-08-12"),
    _r("AR9000007", "CW003", "West", "2022-01-10", 5, last_review="2025-06-01"),
    _r("AR9000008", "CW004", "North", "2018-11-05", 10, last_review="2025-11-10"),
    _r("AR9000009", "CW001", "South", "2024-01-22", 1, last_review="2025-02-03",
       review_meeting="2026-04-15", decision_notified="2026-05-06", decision="maintain"),
    _r("AR9000010", "CW002", "East", "2021-03-08", 6, ncy_academic_year="2025/26", last_review="2024-12-02",
       review_meeting="2025-10-08", decision_notified="2025-10-29", decision="amend",
       amendment_notice_sent="2025-10-29", amended_plan_issued="2026-01-30"),
    _r("AR9000011", "CW003", "West", "2020-06-15", 6, ncy_academic_year=2025, phase_transfer="school",
       last_review="2024-11-18", review_meeting="2025-11-05", decision_notified="2025-12-10",
       decision="amend", amendment_notice_sent="2025-12-10", amended_plan_issued="2026-03-06"),
    _r("AR9000012", "CW004", "North", "2017-09-18", 11, ncy_academic_year=2025, last_review="2024-12-09",
       review_meeting="2025-11-12", decision_notified="2025-12-03", decision="amend",
       amendment_notice_sent="2025-12-03", amended_plan_issued="2026-03-16"),
    _r("AR9000013", "CW001", "South", "2018-02-26", 11, ncy_academic_year=2025, last_review="2025-01-20",
       review_meeting="2025-12-15", decision_notified="2026-01-12", decision="amend",
       amendment_notice_sent="2026-01-12", amended_plan_issued="2026-04-22"),
    _r("AR9000014", "CW002", "East", "2022-11-21", 6, last_review="2025-12-01"),
    _r("AR9000015", "CW003", "West", "2019-01-14", 11, last_review="2025-11-24",
       review_meeting="2026-10-07"),
    _r("AR9000016", "CW004", "North", "2020-05-11", 12, phase_transfer="post16_move",
       transfer_date="2026-09-07", last_review="2025-03-17", review_meeting="2026-02-11",
       decision_notified="2026-03-04", decision="amend", amendment_notice_sent="2026-03-04",
       amended_plan_issued="2026-03-27"),
    _r("AR9000017", "CW001", "South", "2019-04-08", 13, phase_transfer="post16_move",
       transfer_date="2026-04-13", last_review="2025-01-06", review_meeting="2025-10-22",
       decision_notified="2025-11-12", decision="amend", amendment_notice_sent="2025-11-12",
       amended_plan_issued="2025-12-15"),
    _r("AR9000018", "CW002", "East", "2023-05-15", None, date_of_birth="2016-02-14",
       last_review="2025-12-08"),
    _r("AR9000019", "CW003", "West", "2018-10-01", None, date_of_birth="2010-01-20",
       last_review="2024-12-16", review_meeting="2025-11-20", decision_notified="2025-12-11",
       decision="amend", amendment_notice_sent="2025-12-11", amended_plan_issued="2026-02-05"),
    _r("AR9000020", "CW004", "North", "2021-07-12", 8, last_review="2025-03-03",
       transferred_in="2026-01-19",
       review_meeting="2026-04-08", decision_notified="2026-04-20", decision="maintain"),
    _r("AR9000021", "CW001", "South", "2025-11-03", 2),
    _r("AR9000022", "CW002", "East", "2020-01-20", 6, ncy_academic_year=2025, phase_transfer="none",
       last_review="2025-01-27", review_meeting="2026-01-12", decision_notified="2026-01-30",
       decision="maintain"),
    _r("AR9000023", "CW003", "West", "2022-09-05", 4, last_review="2025-10-27",
       review_meeting="2026-09-23", decision_notified="2026-10-12", decision="amend"),
    _r("AR9000024", "CW004", "North", "2021-09-13", 7, last_review="2025-07-01",
       meeting_notice_sent="2026-05-20", advice_circulated="2026-06-01", review_meeting="2026-06-10",
       review_report_sent="2026-06-30", decision_notified="2026-06-30", decision="maintain"),
    _r("AR9000025", "CW001", "South", "2025-03-03", -1, ncy_academic_year=2025,
       review_meeting="2025-12-03", decision_notified="2025-12-17", decision="amend",
       amendment_notice_sent="2025-12-17", amended_plan_issued="2026-02-10"),
    _r("AR9000026", "CW002", "East", "2020-11-02", 6, ncy_academic_year=2025, last_review="2025-01-13",
       review_meeting="2025-11-19", decision_notified="2025-12-10", decision="maintain"),
    _r("AR9000027", "CW003", "West", "2022-07-04", 6, ncy_academic_year=2025, last_review="2024-07-15",
       review_meeting="2025-07-02", decision_notified="2025-07-14", decision="maintain"),
    {**_r("AR9000028", "CW003", "West", "2022-07-04", 6, ncy_academic_year=2025, last_review="2025-07-14"),
     "person_id": "P9000027"},
]

# The council system's own names for the assessment columns (sample_data/assessments_council.xlsx,
# mapped back by ehcp_tracker/ingest/profiles/example-system.toml). The xlsx puts "Child ID" first to
# show that columns are matched by name, not position.
COUNCIL_COLUMNS = {
    "request_id": "Request Ref",
    "person_id": "Child ID",
    "request_received": "Date Request Received",
    "caseworker": "Case Officer",
    "team": "Locality Team",
    "request_outcome": "Decision To Assess",
    "request_outcome_date": "Decision Date",
    "ep_advice_requested": "EP Advice Requested",
    "ep_advice_received": "EP Advice Received",
    "health_advice_requested": "Health Advice Requested",
    "health_advice_received": "Health Advice Received",
    "social_care_advice_requested": "Social Care Advice Requested",
    "social_care_advice_received": "Social Care Advice Received",
    "education_advice_requested": "Education Advice Requested",
    "education_advice_received": "Education Advice Received",
    "assessment_outcome": "Assessment Outcome",
    "assessment_outcome_date": "Assessment Outcome Date",
    "draft_plan_issued": "Draft Plan Sent",
    "final_plan_issued": "Final Plan Issued",
    "exception_reason": "20 Week Exception",
    "decision_exception": "Decision Exception",
    "ep_advice_exception": "EP Advice Exception",
    "health_advice_exception": "Health Advice Exception",
    "social_care_advice_exception": "Social Care Advice Exception",
    "education_advice_exception": "Education Advice Exception",
    "closed_date": "Date Closed",
    "closed_reason": "Closure Reason",
    "looked_after": "CLA",
    "youth_justice": "Youth Justice",
    "camhs": "CAMHS Involved",
    "placed_out_of_area": "OOA Placement",
}

_COUNCIL_EXCEPTIONS = {
    "school_closure": "School Closure",
    "early_years_closure": "Early Years Closure",
    "personal_circumstances": "Exceptional Personal Circumstances",
    "absence_from_area": "Absent From Area",
    "missed_appointment": "Missed Appointment",
    "coronavirus": "Coronavirus",
}

# canonical column -> {canonical value: council spelling}
COUNCIL_VALUES = {
    "request_outcome": {"assess": "Agreed", "not_assess": "Refused", "withdrawn": "Withdrawn"},
    "assessment_outcome": {"issue": "Issue Plan", "not_issue": "No Plan"},
    "closed_reason": {"plan_issued": "Plan Issued", "not_assess": "Refused", "not_issue": "No Plan",
                      "withdrawn": "Withdrawn", "moved_away": "Moved Away"},
    **{c: _COUNCIL_EXCEPTIONS for c in ("exception_reason", "decision_exception",
                                        *(f"{s}_advice_exception" for s in SERVICES))},
    **{f: {"yes": "Y", "no": "N"} for f in FLAGS},
}

_COUNCIL_ORDER = ["person_id", "request_id"] + [c for c in ASSESSMENT_COLUMNS
                                                 if c not in ("person_id", "request_id")]


def _edge_frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    data = {}
    for c in columns:
        values = [row[c] for row in rows]
        if c in _DATE_COLUMNS:
            values = [None if v is None else dt.date.fromisoformat(v) for v in values]
        data[c] = pd.Series(values, dtype="Int64" if c == "ncy" else object)
    return pd.DataFrame(data)


_DATE_COLUMNS = {
    c for c in ASSESSMENT_COLUMNS + REVIEW_COLUMNS
    if c.endswith(("_received", "_requested", "_date", "_issued", "_review", "_sent", "_notified",
                   "_meeting", "date_of_birth"))
}


def sample_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sample assessments and reviews: seeded rows followed by the edge rows."""
    a = generate_assessments(SAMPLE_REQUESTS, SAMPLE_SEED, SAMPLE_END, years=2.0)
    r = generate_reviews(SAMPLE_REVIEWS, SAMPLE_SEED, SAMPLE_END)
    a = pd.concat([a, _edge_frame(EDGE_ASSESSMENTS, ASSESSMENT_COLUMNS)], ignore_index=True)
    r = pd.concat([r, _edge_frame(EDGE_REVIEWS, REVIEW_COLUMNS)], ignore_index=True)
    return a, r


def _cell_text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _frame_csv(frame: pd.DataFrame, path: Path) -> None:
    """Small-frame CSV writer with exactly the format of the vectorised one."""
    lines = [",".join(frame.columns)]
    for row in frame.itertuples(index=False):
        lines.append(",".join(_cell_text(v) for v in row))
    atomic_write(path, "\n".join(lines) + "\n")


def _council_workbook(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "EHCNA Requests"
    ws.append([COUNCIL_COLUMNS[c] for c in _COUNCIL_ORDER])
    for row in frame[_COUNCIL_ORDER].itertuples(index=False):
        values = []
        for c, v in zip(_COUNCIL_ORDER, row):
            if v is None or v is pd.NA:
                values.append(None)
            elif c in COUNCIL_VALUES:
                values.append(COUNCIL_VALUES[c].get(v, v))
            else:
                values.append(v)
        ws.append(values)
    for j, c in enumerate(_COUNCIL_ORDER, start=1):
        if c in _DATE_COLUMNS:
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                if cell.value is not None:
                    cell.number_format = "dd/mm/yyyy"
    ws.freeze_panes = "A2"
    fixed = dt.datetime(2026, 10, 30, 18, 0, 0)
    wb.properties.creator = "ehcp-tracker synthetic data"
    wb.properties.created = fixed
    wb.properties.modified = fixed
    with atomic_open(path, "wb") as handle:
        wb.save(handle)


def write_sample_data(directory) -> dict[str, Path]:
    """(Re)generate ``sample_data/``: assessments.csv, reviews.csv, assessments_council.xlsx."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    a, r = sample_frames()
    paths = {
        "assessments": directory / "assessments.csv",
        "reviews": directory / "reviews.csv",
        "assessments_council": directory / "assessments_council.xlsx",
    }
    _frame_csv(a, paths["assessments"])
    _frame_csv(r, paths["reviews"])
    _council_workbook(a, paths["assessments_council"])
    return paths


# --------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ehcp_tracker.demo.synthetic",
        description="Write synthetic (entirely invented) assessment and review extracts.")
    parser.add_argument("--requests", type=int, default=1000, help="assessment rows (default 1000)")
    parser.add_argument("--reviews", type=int, default=700, help="review rows (default 700)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--end", type=dt.date.fromisoformat, default=None,
                        help="as-of date YYYY-MM-DD (default today)")
    parser.add_argument("--years", type=float, default=2.0,
                        help="requests are received over this many years before --end")
    parser.add_argument("--output", type=Path, help="directory for assessments.csv and reviews.csv")
    parser.add_argument("--sample-data", type=Path, metavar="DIR",
                        help="regenerate the committed sample (sample_data/) into DIR instead")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    if args.sample_data is not None:
        paths = write_sample_data(args.sample_data)
    elif args.output is None:
        parser.print_usage(sys.stderr)
        print("error: --output (or --sample-data) is required", file=sys.stderr)
        return 2
    else:
        if args.requests < 0 or args.reviews < 0 or args.years <= 0:
            print("error: --requests/--reviews must be >= 0 and --years > 0", file=sys.stderr)
            return 2
        end = args.end or dt.date.today()
        try:
            paths = write_extracts(args.output, args.requests, args.reviews, args.seed, end, args.years)
        except EhcpError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    for name, path in paths.items():
        print(f"wrote {name}: {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
