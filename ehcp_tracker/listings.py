"""The library behind the listing commands: clocks, due, breaches, backlog, explain.

Each function takes an engine, the rule book and the as-of date and returns a DataFrame, so the CLI
only parses options and renders, and tests can call these directly.
"""

from __future__ import annotations

import datetime as dt
import re
import difflib
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .clocks.engine import (CLOCK_COLUMNS, EXTRA_COLUMNS, OPEN_STATUSES, OUTCOME_COLUMNS, STATUSES, empty_result,
                            evaluate, judge)
from .clocks.explain import CaseWorking, explain_case
from .clocks.rules import RuleBook
from .errors import EhcpError
from .output import clean
from .schema import COHORTS, KINDS
from .store import clock_table, db


@dataclass(frozen=True)
class Filters:
    """Who a listing is for: every listing takes the same filters."""

    kind: str | None = None  # "assessments" | "reviews" | None for both
    caseworker: str | tuple[str, ...] | None = None  # as given; a tuple once resolved to the stored spellings
    team: str | tuple[str, ...] | None = None
    cohort: str | None = None
    clock: str | None = None
    status: str | None = None
    include_missing: bool = False  # cases absent from the latest extract are kept but not listed by default


def clock_results(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters = Filters(), *,
                  fresh: bool = False, running_due_by: dt.date | None = None,
                  stored: bool | None = None, caseload: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Every clock of every case matching ``filters``, judged on ``as_of``.

    Caseworker, team and cohort filters go to the database (indexed), so "my cases" stays fast at
    national scale. The clocks come from the stored results (``store.clock_table``: worked out once
    per database state) when they were made under this rule book and are settled on ``as_of``
    (:func:`stored_ok`); otherwise, or with ``fresh``, the engine runs over just those cases, as
    it always did. ``stored``: read the stored rows whenever they answer (True), or only for a
    filtered listing (None, the default: see below). ``running_due_by``: only clocks still running
    and due by that day are needed (``due``): the stored path lets the database pick them out.
    ``caseload``: the cases already read for the same filters (:func:`load_filtered`).
    """
    if filters.status and filters.status not in STATUSES:
        raise EhcpError(f"--status: {filters.status!r} is not one of {', '.join(STATUSES)}")
    if filters.clock and filters.clock not in {c.id for c in book.clocks}:
        raise EhcpError(f"--clock: no clock {filters.clock!r} (see `ehcp rules list`)")
    if filters.cohort and filters.cohort not in COHORTS:
        raise EhcpError(f"--cohort: {filters.cohort!r} is not one of {', '.join(COHORTS)}")
    kinds = [filters.kind] if filters.kind else list(KINDS)
    frames = []
    with engine.connect() as conn:
        filters = resolve_filters(conn, filters)
        # the stored rows are read by the indexes of a caseworker's, a team's or a cohort's cases; a
        # listing of the whole caseload still runs the engine over the packed read of the cases
        # (``store.caseload``), which is faster than fetching millions of stored rows one by one
        narrow = bool(filters.caseworker or filters.team or filters.cohort)
        wanted = (narrow if stored is None else stored) and not fresh
        stored = wanted and stored_ok(conn, book, as_of) is None
        for name in kinds:
            kind = KINDS[name]
            clocks = book.clocks_for(kind.case)
            if filters.clock:
                clocks = [c for c in clocks if c.id == filters.clock]
            if not clocks:
                continue
            if stored:
                frames.append(stored_clocks(conn, kind, filters, as_of, sorted({c.id for c in clocks}),
                                            running_due_by))
                continue
            cases = load_filtered(conn, name, filters, caseload)
            if len(cases):
                part = evaluate(cases, book, as_of, case=kind.case, clocks=[c.id for c in clocks])
                if filters.include_missing:
                    part["missing_since"] = missing_since(conn, cases, kind.key, part["case_id"])
                frames.append(part)
    frames = [f for f in frames if len(f)]
    result = pd.concat(frames, ignore_index=True) if frames else empty_result()
    columns = CLOCK_COLUMNS + EXTRA_COLUMNS
    if filters.include_missing:
        columns = columns + ["missing_since"]
        if "missing_since" not in result:
            result["missing_since"] = pd.Series(dtype="datetime64[s]")
    if filters.status:
        result = result[result["status"] == filters.status]
    return result[columns].sort_values(["due", "case_id", "clock"], kind="stable").reset_index(drop=True)


def stored_ok(conn: sa.Connection, book: RuleBook, as_of: dt.date) -> str | None:
    """None when the stored clocks answer for ``as_of`` exactly as a fresh evaluation would; else
    why not, in one line: never worked out, worked out under another rule book (or engine), or
    ``as_of`` is before some case's latest stage date (a past ``--as-of``: the engine must cut)."""
    stored = clock_table.stored_fingerprint(conn)
    if stored is None:
        return "the clocks have not been stored yet (`ehcp evaluate` stores them)"
    if stored != clock_table.fingerprint(book.content_digest):
        return ("the stored clocks were worked out under another rule book or engine "
                "(`ehcp evaluate` works them out again)")
    settled = clock_table.latest_settled(conn)
    if settled is not None and settled > as_of:
        return f"--as-of {as_of} is before the latest stage date stored ({settled})"
    return None


def stored_reason(engine: Engine, book: RuleBook, as_of: dt.date) -> str | None:
    """:func:`stored_ok` on its own connection (the CLI's one-line note)."""
    with engine.connect() as conn:
        return stored_ok(conn, book, as_of)


def stored_clocks(conn: sa.Connection, kind, filters: Filters, as_of: dt.date, clocks: list[str],
                  running_due_by: dt.date | None = None) -> pd.DataFrame:
    """One kind's stored clocks matching ``filters``, judged on ``as_of`` (``engine.judge``: the
    same verdict the engine gives, from the stored start, due and stop dates), as ``evaluate``
    columns (and ``missing_since`` with ``include_missing``)."""
    table = db.table_for(kind.name)
    rows = clock_table.read(conn, kind, filter_condition(table, filters), include_missing=filters.include_missing,
                            clocks=clocks, running_due_by=running_due_by)
    return judged(conn, rows, as_of, with_missing=filters.include_missing)


def judged(conn: sa.Connection | None, rows: pd.DataFrame, as_of: dt.date, *, with_missing: bool = False
           ) -> pd.DataFrame:
    """Stored rows (``clock_table.read``) judged on ``as_of``, as ``evaluate`` columns."""
    today = np.datetime64(as_of, "D")
    n = len(rows)
    stopped = np.full(n, np.datetime64("NaT"), dtype="datetime64[D]")
    status = np.empty(n, dtype=object)
    days_overdue = np.zeros(n, dtype=np.int64)
    stop_reason = np.empty(n, dtype=object)
    warning = rows["warning_days"].to_numpy(dtype=np.int64) if n else np.empty(0, dtype=np.int64)
    dates = {name: rows[name].to_numpy(dtype="datetime64[D]") for name in ("due", "stop_event", "closure", "overtaken")}
    for days in np.unique(warning):
        at = warning == days
        stopped[at], status[at], days_overdue[at], stop_reason[at] = judge(
            dates["due"][at], dates["stop_event"][at], dates["closure"][at], today, int(days), dates["overtaken"][at])
    made = {"stopped": stopped.astype("datetime64[s]"), "status": status, "days_overdue": days_overdue,
            "stop_reason": stop_reason}
    if with_missing:
        runs = dict(conn.execute(sa.select(db.import_run.c.id, db.import_run.c.as_of)).all()) if conn is not None else {}
        made["missing_since"] = pd.to_datetime(rows["missing_since_run_id"].map(runs), errors="coerce").astype("datetime64[s]")
    columns = CLOCK_COLUMNS + EXTRA_COLUMNS + (["missing_since"] if with_missing else [])
    # as the engine gives them: text, flags and codes as object columns (None for blank); built as one
    # frame from arrays (a column at a time through pandas cost more than the judging for a short list)
    data = {}
    for name in columns:
        values = made[name] if name in made else rows[name]
        if name not in ("started", "due", "stopped", "days_overdue", "missing_since"):
            values = np.array(values, dtype=object) if isinstance(values, np.ndarray) else values.to_numpy(dtype=object)
            values = values.copy()
            values[pd.isna(values)] = None
            values = pd.Series(values, index=rows.index, dtype=object)  # kept object: no string inference
        data[name] = values
    out = pd.DataFrame(data, index=rows.index)
    if len(out) and out["statutory"].map(type).eq(bool).all():
        out["statutory"] = out["statutory"].astype(bool)  # the engine's flag (np.full of clock.statutory)
    return out


def missing_since(conn: sa.Connection, cases: pd.DataFrame, key: str, case_ids: pd.Series) -> pd.Series:
    """For each result row, the as-of date of the import that first missed its case (blank while present)."""
    runs = dict(conn.execute(sa.select(db.import_run.c.id, db.import_run.c.as_of)).all())
    by_case = cases.set_index(key)["missing_since_run_id"].map(runs)
    return pd.to_datetime(case_ids.map(by_case), errors="coerce").astype("datetime64[s]")


def _spelling(value: str) -> str:
    """What a person means by a caseworker or team: case and runs of spaces do not count."""
    return " ".join(str(value).split()).casefold()


def resolve_filters(conn: sa.Connection, filters: Filters) -> Filters:
    """``--caseworker cw005`` and ``--team ' north '`` as the stored spellings (CW005, North).

    The distinct values come from the indexed columns (a fast scan even at national scale); a
    value matching no case is an error naming the known ones, never a silent "0 clocks"."""
    resolved = {}
    for name in ("caseworker", "team"):
        given = getattr(filters, name)
        if given is None or isinstance(given, tuple):
            continue
        known = sorted({v for kind in KINDS for v in conn.execute(
            sa.select(db.table_for(kind).c[name]).distinct().where(db.table_for(kind).c[name].is_not(None))).scalars()})
        wanted = _spelling(given)
        matches = tuple(v for v in known if _spelling(v) == wanted)
        if not matches:
            raise EhcpError(f"--{name}: no {name} {given.strip()!r} ({_known(given, known)})")
        resolved[name] = matches
    return replace(filters, **resolved) if resolved else filters


def _known(given: str, known: list[str], shown: int = 8) -> str:
    """The known values (the first and last of many) and the closest, for a value that matched none."""
    if not known:
        return "no case has one yet"
    listed = " ".join(known) if len(known) <= shown else f"{known[0]} ... {known[-1]}, {len(known)} in all"
    close = difflib.get_close_matches(_spelling(given), {_spelling(k): k for k in known}, n=1, cutoff=0.6)
    hint = f"; did you mean {next(k for k in known if _spelling(k) == close[0])}?" if close else ""
    return f"known: {listed}{hint}"


def filter_condition(table: sa.Table, filters: Filters):
    """The caseworker, team and cohort filters as one SQL condition (None for no filter), so they
    run in the database on indexed columns rather than over the whole caseload."""
    conditions = []
    for name in ("caseworker", "team"):
        value = getattr(filters, name)
        if value:
            conditions.append(table.c[name].in_(value) if isinstance(value, tuple) else table.c[name] == value)
    if filters.cohort:
        conditions.append(table.c[filters.cohort].is_(True))
    return sa.and_(*conditions) if conditions else None


def load_filtered(conn: sa.Connection, kind_name: str, filters: Filters,
                  caseload: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The cases of one kind matching ``filters`` (canonical columns). ``caseload``: the same
    cases already read, missing ones included (``measures.kpi.load_caseload`` with the same
    filters), so a board pack reads a million cases once instead of once per section."""
    case = KINDS[kind_name].case
    if caseload is not None and case in caseload:
        cases = caseload[case]
        if not filters.include_missing:
            cases = cases[cases["missing_since_run_id"].isna()]
        return cases.drop(columns=["missing_since"], errors="ignore").reset_index(drop=True)
    table = db.table_for(kind_name)
    return db.load_cases(conn, KINDS[kind_name], filter_condition(table, filters),
                         include_missing=filters.include_missing)


def week_window(as_of: dt.date) -> tuple[dt.date, dt.date]:
    """Monday to Sunday of the week containing ``as_of``."""
    monday = as_of - dt.timedelta(days=as_of.weekday())
    return monday, monday + dt.timedelta(days=6)


def due_parts(results: pd.DataFrame, start: dt.date, end: dt.date) -> tuple[pd.Series, pd.Series]:
    """The two parts of the caseworker's list, as masks over clock ``results``: running and already
    overdue; running, not overdue, and due from ``start`` to ``end``. ``due`` and the alert digests
    (``alerts/events.py``) both choose their rows here, so "due this week" is one set of clocks."""
    due_day = results["due"].dt.date
    running = results["status"].isin(OPEN_STATUSES)
    overdue = running & (results["status"] == "overdue")
    return overdue, running & ~overdue & (due_day >= start) & (due_day <= end)


def due(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters = Filters(), *,
        days: int | None = None) -> tuple[pd.DataFrame, tuple[dt.date, dt.date]]:
    """A caseworker's list: clocks still running that are already overdue, then those due in the
    window (default: this week, Monday to Sunday), each part by due date.

    Overdue clocks come first because they are the ones to act on today; a list of "due this week"
    that left them out (as it once did) hid the worst cases from the person who has to chase them.
    """
    start, end = week_window(as_of) if days is None else (as_of, as_of + dt.timedelta(days=days))
    results = clock_results(engine, book, as_of, filters, running_due_by=end)
    overdue, in_window = due_parts(results, start, end)
    chosen = results[overdue | in_window].copy()
    chosen["_later"] = chosen["status"] != "overdue"
    chosen = chosen.sort_values(["_later", "due", "case_id", "clock"], kind="stable").drop(columns="_later")
    return chosen.reset_index(drop=True), (start, end)


def breaches(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters = Filters(), *,
             open_only: bool = False, include_exempt: bool = False) -> pd.DataFrame:
    """Clocks running past their due date, and clocks that stopped late (``open_only``: only the
    ones still running); worst first.

    A clock whose exemption applies is no breach: the law lifts its time limit and leaves the duty
    to act "as soon as practicable" (regs 5(4), 10(4), 13(3); reg 8(2) for advice), so it is left out unless
    ``include_exempt``, which lists it with an ``exempt`` column saying so (blank on the others)."""
    results = clock_results(engine, book, as_of, filters)
    chosen = results[results["status"].isin(["overdue"] if open_only else ["overdue", "late"])]
    exempt = chosen["exception"].notna()
    if include_exempt:
        chosen = chosen.assign(exempt=exempt_marks(chosen, book))
    else:
        chosen = chosen[~exempt]
    out = chosen.sort_values(["status", "days_overdue", "case_id"], ascending=[False, False, True],
                             kind="stable").reset_index(drop=True)
    out.attrs["exempt"] = int(exempt.sum())  # listed or left out: the CLI says which
    return out


def clock_titles(book: RuleBook) -> dict[str, str]:
    """Each clock id's title in words (a clock with variants by the family's own title)."""
    titles: dict[str, str] = {}
    for clock in book.clocks:
        titles.setdefault(clock.id, clock.family_title or clock.title)
    return titles


_UNVERIFIED = re.compile(r"\s*\([^()]*unverified[^()]*\)|;[^;]*unverified[^;]*(?=;|$)"
                         r"|:\s[^;:]*could not be (read|checked|verified)[^;]*")


def reference_for_caseworkers(reference: str) -> str:
    """A clock's reference without the notes on what could not be checked ("(paragraph number
    unverified)"): those are for ``explain`` and the rule book, not a caseworker's morning list."""
    return _UNVERIFIED.sub("", reference or "").strip()


def days_text(status: str, days_overdue: int, due: dt.date | None, as_of: dt.date) -> str:
    """How a caseworker says where a clock stands: "3 overdue", "2 left", "due today", "5 late"
    (stopped 5 days after its due date), "on time"."""
    if status == "overdue":
        return f"{days_overdue} overdue"
    if status == "late":
        return f"{days_overdue} late"
    if status == "met":
        return "on time"
    if due is None or pd.isna(due):
        return ""
    left = (pd.Timestamp(due).date() - as_of).days
    return "due today" if left == 0 else f"{left} left"


# The caseworker's view of a clock listing (``table_view``): what to do, by when, how long is left.
NARROW_COLUMNS = ["case_id", "title", "due", "days", "caseworker", "exempt"]
WIDE_COLUMNS = ["case_id", "kind", "caseworker", "team", "clock", "title", "started", "due", "stopped", "status",
                "days", "exception", "exempt", "statutory", "reference"]


def table_view(frame: pd.DataFrame, book: RuleBook, as_of: dt.date, *, wide: bool = False) -> pd.DataFrame:
    """A clock listing as people read it: the clock's title in words and "3 overdue" / "2 left",
    with a set of columns that fits a terminal (``wide``: the fuller set). Frames that are not clock
    listings are returned unchanged. CSV, JSON and XLSX never go through here: they keep the contract
    columns."""
    if not {"case_id", "clock", "due", "status", "days_overdue"} <= set(frame.columns):
        return frame
    out = frame.copy()
    titles = clock_titles(book)
    out["title"] = [titles.get(c, c) for c in out["clock"]]
    out["days"] = [days_text(s, int(d), due, as_of)
                   for s, d, due in zip(out["status"], out["days_overdue"], out["due"], strict=True)]
    return out[[c for c in (WIDE_COLUMNS if wide else NARROW_COLUMNS) if c in out.columns]]


BACKLOG_COLUMNS = ["case_id", "kind", "person_id", "caseworker", "team", "clock", "started", "due",
                   "due_month", "weeks_overdue", "exception"]


def _of(results: pd.DataFrame, kind: str, clock: str | None = None) -> pd.DataFrame:
    """One kind's (and clock's) rows of :func:`clock_results` output, still in its order."""
    chosen = results["kind"] == KINDS[kind].case
    if clock:
        chosen &= results["clock"] == clock
    return results[chosen]


def backlog(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters = Filters(), *,
            results: pd.DataFrame | None = None) -> pd.DataFrame:
    """Open assessments past their 20 weeks, aged in whole weeks overdue, by the month the 20 weeks ran out.

    With ``filters.kind == "reviews"``: the review backlog instead (``review_backlog``). ``results``:
    the :func:`clock_results` of the same filters (any kind and clock), when the caller has them
    already (the board pack), so the caseload is not evaluated again.
    """
    if filters.kind == "reviews":
        return review_backlog(engine, book, as_of, filters, results=results)
    if results is None:
        results = clock_results(engine, book, as_of, Filters(**{**filters.__dict__, "clock": "final_plan",
                                                                "kind": "assessments"}))
    else:
        results = _of(results, "assessments", "final_plan")
    chosen = results[results["status"] == "overdue"].copy()
    chosen["due_month"] = chosen["due"].dt.strftime("%Y-%m")
    chosen["weeks_overdue"] = (chosen["days_overdue"] // 7).astype("int64")
    return chosen.sort_values(["due", "case_id"], kind="stable")[BACKLOG_COLUMNS].reset_index(drop=True)


REVIEW_BACKLOG_COLUMNS = [*BACKLOG_COLUMNS, "band"]
# Age past the due date, in whole calendar months: [0, 6), [6, 12), [12, 24), 24 and more.
REVIEW_BANDS = ((0, "0-6 months"), (6, "6-12 months"), (12, "12-24 months"), (24, "24+ months"))
AT_RISK_BAND = "due within 8 weeks"
PHASE_TRANSFER_RISK_DAYS = 56


def months_overdue(due: pd.Series, as_of: dt.date) -> pd.Series:
    """Whole calendar months from each due date to ``as_of`` (due 14 March, as of 13 September: 5)."""
    months = (as_of.year * 12 + as_of.month) - (due.dt.year * 12 + due.dt.month)
    return (months - (due.dt.day > as_of.day).astype("int64")).astype("int64")


def review_backlog(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters = Filters(), *,
                   risk_days: int = PHASE_TRANSFER_RISK_DAYS, results: pd.DataFrame | None = None) -> pd.DataFrame:
    """Annual reviews not concluded past their due date, banded by months overdue (0-6, 6-12, 12-24,
    24+), and phase-transfer reviews at risk: open ``phase_transfer`` clocks overdue (banded the same
    way) or due within ``risk_days`` (band "due within 8 weeks"). Oldest first within each clock.
    ``results``: as :func:`backlog`."""
    if results is None:
        results = clock_results(engine, book, as_of, Filters(**{**filters.__dict__, "clock": None, "kind": "reviews"}))
    else:
        results = _of(results, "reviews")
    horizon = pd.Timestamp(as_of + dt.timedelta(days=risk_days))
    overdue_review = (results["clock"] == "annual_review") & (results["status"] == "overdue")
    transfer_risk = ((results["clock"] == "phase_transfer") & results["status"].isin(OPEN_STATUSES)
                     & (results["due"] <= horizon))
    chosen = results[overdue_review | transfer_risk].copy()
    chosen["due_month"] = chosen["due"].dt.strftime("%Y-%m")
    chosen["weeks_overdue"] = (chosen["days_overdue"] // 7).astype("int64")
    months = months_overdue(chosen["due"], as_of)
    band = pd.Series(AT_RISK_BAND, index=chosen.index, dtype=object)
    for low, label in REVIEW_BANDS:
        band[(chosen["status"] == "overdue") & (months >= low)] = label
    chosen["band"] = band
    ordered = chosen.sort_values(["clock", "due", "case_id"], kind="stable")
    return ordered[REVIEW_BACKLOG_COLUMNS].reset_index(drop=True)


def backlog_summary(backlog_rows: pd.DataFrame) -> pd.DataFrame:
    """The backlog counted by the month the 20 weeks ran out (reviews: by clock and band)."""
    keys = ["clock", "band"] if "band" in backlog_rows else ["due_month"]
    grouped = backlog_rows.groupby(keys, sort=True).agg(
        open_cases=("case_id", "size"), with_exception=("exception", lambda s: int(s.notna().sum())),
        oldest_weeks_overdue=("weeks_overdue", "max"))
    out = grouped.reset_index()
    if "band" in backlog_rows:
        order = {label: i for i, label in enumerate([AT_RISK_BAND, *(label for _, label in REVIEW_BANDS)])}
        out = out.sort_values(["clock", "band"], key=lambda s: s.map(order) if s.name == "band" else s,
                              kind="stable").reset_index(drop=True)
    return out


def find_case(engine: Engine, case_id: str) -> tuple[str, dict]:
    """The stored record of one assessment request or review, by its ID (spaces around it and, when
    no ID matches exactly, letter case forgiven); none matching names the closest IDs."""
    wanted = case_id.strip()
    with engine.connect() as conn:
        for exact in (True, False):
            for kind in KINDS.values():
                key = db.table_for(kind.name).c[kind.key]
                condition = key == wanted if exact else sa.func.upper(key) == wanted.upper()
                frame = db.load_cases(conn, kind, condition)
                if len(frame) == 1 or (len(frame) and exact):
                    return kind.case, frame.iloc[0].to_dict()
        close = _closest_ids(conn, wanted)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise EhcpError(f"no assessment request or review with ID {wanted!r}{hint}")


def _closest_ids(conn: sa.Connection, wanted: str, n: int = 3) -> list[str]:
    """The stored IDs most like ``wanted`` (only those of about its length are compared, so a
    mistyped ID among a million is answered in a second or two)."""
    ids = []
    for kind in KINDS.values():
        key = db.table_for(kind.name).c[kind.key]
        ids += conn.execute(sa.select(key).where(sa.func.length(key).between(len(wanted) - 1, len(wanted) + 1))).scalars()
    return difflib.get_close_matches(wanted, ids, n=n, cutoff=0.6) if ids else []


def child_reviews(engine: Engine, person_id) -> list[dict]:
    """Every stored review row of one child: a phase transfer belongs to the child (reg 18), so which
    row carries it is worked out from them all."""
    with engine.connect() as conn:
        frame = db.load_cases(conn, KINDS["reviews"], db.review_table.c.person_id == person_id)
    return frame.to_dict("records")


def explain(engine: Engine, book: RuleBook, as_of: dt.date, case_id: str) -> CaseWorking:
    case, record = find_case(engine, case_id)
    siblings = child_reviews(engine, record.get("person_id")) if case == "review" else None
    working = explain_case(record, case, book, as_of, siblings)
    if record.get("missing_since_run_id"):
        working.notes.append(f"this case was missing from the extract of import run {record['missing_since_run_id']} "
                             "onwards: it is kept, but may have been closed in the case system")
    return working


def working_rows(working: CaseWorking) -> pd.DataFrame:
    """The clocks of one explained case as listing rows (the same columns as ``clocks``)."""
    rows = []
    for w in working.clocks:
        if not w.applies:
            continue
        rows.append({
            "case_id": working.case_id, "kind": working.case, "person_id": working.record.get("person_id"),
            "caseworker": working.record.get("caseworker"), "team": working.record.get("team"),
            "clock": w.clock.id, "started": w.started, "due": w.due, "stopped": w.stopped, "status": w.status,
            "days_overdue": w.days_overdue, "exception": w.exception, "statutory": w.clock.statutory,
            "stop_reason": w.stop_reason, "rule_version": w.rule_version, "reference": w.reference,
            **{f: working.record.get(f) for f in COHORTS},
            **{f: working.record.get(f) for f in OUTCOME_COLUMNS},
        })
    frame = pd.DataFrame(rows, columns=CLOCK_COLUMNS + EXTRA_COLUMNS)
    for key in ("started", "due", "stopped"):
        frame[key] = pd.to_datetime(frame[key]).astype("datetime64[s]")
    return frame


def render_working(working) -> str:
    lines = [f"{working.case} {working.case_id} (person {working.record.get('person_id')}), "
             f"caseworker {working.record.get('caseworker') or '-'}, team {working.record.get('team') or '-'}",
             f"as of {working.as_of:%a %d %b %Y}"]
    flags = [f for f, on in working.flags.items() if on]
    lines.append("priority cohorts: " + (", ".join(flags) if flags else "none"))
    lines += [f"note: {n}" for n in working.notes]
    for clock in working.clocks:
        lines.append("")
        lines.append(f"  {clock.steps[0]}")
        lines += [f"    {step}" for step in clock.steps[1:]]
        if clock.applies:
            lines.append(f"    => due {clock.due:%d %b %Y}, status {clock.status}"
                         + (f", exception {clock.exception}" if clock.exception else ""))
    return "\n".join(clean(line) for line in lines)  # case-system text reaches a terminal: no controls


# ------------------------------------------------------------------------------------ exempt clocks

# How the law words the duty left once an exemption applies: the LA's time limits (regs 4(1), 5(1),
# 10(1), 13(2)) all read "as soon as practicable, and in any event within ...", and an exemption
# (regs 5(4), 10(4), 13(3)) lifts only the "in any event" limit. A rule file's ``effect`` (the 2020
# coronavirus relaxation: "as soon as reasonably practicable") says it where the words differ.
EXEMPT_FALLBACK = "as soon as practicable"


def exempt_marks(frame: pd.DataFrame, book: RuleBook) -> pd.Series:
    """For each clock row, "exempt: as soon as practicable" where an exemption applies (the engine's
    ``exception`` column names it), blank where none does.

    The engine alone decides whether an exemption applies (its conditions, its window); this only
    words the consequence, so a change to which exemptions apply changes these marks with it."""
    recorded = frame["exception"].to_numpy(dtype=object)
    marks = np.full(len(frame), None, dtype=object)
    for code in frame.loc[frame["exception"].notna(), "exception"].unique():
        reason = book.exceptions.get(code)
        effect = reason.effect if reason is not None else ""
        fallback = effect.rpartition(":")[2].strip() if effect else EXEMPT_FALLBACK
        marks[recorded == code] = f"exempt: {fallback or EXEMPT_FALLBACK}"
    return pd.Series(marks, index=frame.index, dtype=object)


# ------------------------------------------------------------------------------------------ queries

def query_codes() -> tuple[str, ...]:
    """Every query code ``clocks/queries.py`` defines (its module-level ``Query`` findings, alone or in
    a tuple), sorted: ``--code`` takes these, so a new finding there is listed here with no change."""
    from .clocks import queries as found

    codes = set()
    for value in vars(found).values():
        for item in value if isinstance(value, (tuple, list)) else (value,):
            if isinstance(item, found.Query):
                codes.add(item.code)
    return tuple(sorted(codes))


def queries(engine: Engine, book: RuleBook, as_of: dt.date, filters: Filters = Filters(), *,
            code: str | None = None, caseload: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The caseload's queries (``clocks.queries.caseload_queries``: what the law or the data makes
    doubtful but that is not a clock), for the cases matching ``filters``, judged on ``as_of``;
    ``code``: only that finding. Columns ``QUERY_COLUMNS`` (plus ``missing_since`` with
    ``filters.include_missing``), by code and case.

    A code that names no finding is an error listing the known ones, never a silent "no queries".
    ``caseload``: the cases already read for the same filters (:func:`load_filtered`)."""
    from .clocks.queries import QUERY_COLUMNS, caseload_queries

    if code is not None:
        known = query_codes()
        wanted = code.strip().lower()
        if wanted not in known:
            raise EhcpError(f"--code: no query {code.strip()!r} (known: {' '.join(known)})")
        code = wanted
    kinds = [filters.kind] if filters.kind else list(KINDS)
    with engine.connect() as conn:
        filters = resolve_filters(conn, filters)
        frames = {name: (load_filtered(conn, name, filters, caseload) if name in kinds
                         else db.load_cases(conn, KINDS[name], sa.false()))
                  for name in KINDS}
        found = caseload_queries(frames["assessments"], frames["reviews"], book, as_of)
        if code is not None:
            found = found[found["code"] == code].reset_index(drop=True)
        columns = list(QUERY_COLUMNS)
        if filters.include_missing:
            columns.append("missing_since")
            found["missing_since"] = pd.Series(dtype="datetime64[s]", index=found.index)
            for name, cases in frames.items():
                rows = found["kind"] == KINDS[name].case
                if rows.any():
                    found.loc[rows, "missing_since"] = missing_since(conn, cases, KINDS[name].key,
                                                                     found.loc[rows, "case_id"])
    return found[columns].reset_index(drop=True)


QUERY_NARROW_COLUMNS = ["code", "case_id", "clock", "message", "action"]
QUERY_WIDE_COLUMNS = ["code", "case_id", "kind", "caseworker", "team", "clock", "date", "message", "action",
                      "missing_since"]


def query_table_view(frame: pd.DataFrame, *, wide: bool = False) -> pd.DataFrame:
    """The queries as people read them: code, case, clock, message and what to do (``wide``: with
    whose case it is and the date it is about). CSV, JSON and XLSX keep ``QUERY_COLUMNS``."""
    shown = [c for c in (QUERY_WIDE_COLUMNS if wide else QUERY_NARROW_COLUMNS) if c in frame.columns]
    return frame[shown].rename(columns={"action": "what to do"})
