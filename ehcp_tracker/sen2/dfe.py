"""DfE's published "Education, health and care plans" files, read as they come, every edition.

Why here: the reconciliation and the board pack's benchmarks read the same files. Columns are matched
case-insensitively (the 2025 edition spelt some ``PC_...`` and ``ltYear``), a byte-order mark is
dropped, DfE's symbols (x not available, z not applicable, c, low, u) read as blank, and the total
row is found under each edition's name ("All EHC plans issued" in 2025, "All EHC plans" from 2026).
Before 2025 the release's file was ``sen2_mi.csv`` with other names: ``SEN2_MI_NAMES`` maps them.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from ..errors import EhcpError

TOTAL_ROWS = ("all ehc plans", "all ehc plans issued")  # 2026 edition on; 2025 edition
NOT_AVAILABLE = {"x", "z", "c", "low", "u", ":", "", "no data"}
MAX_BYTES = 200 * 1024 * 1024
# sen2_mi.csv (2024 and earlier releases) -> the timeliness file's names
SEN2_MI_NAMES = {"tot_inc_exc_ehc": "plans_issued_den", "inc_exc_20week_ehc": "plans_issued_within_20_weeks",
                 "inc_exc_20week_rate": "pc_plans_issued_within_20_weeks", "tot_no_exc_ehc": "plans_issued_den_ex",
                 "no_exc_20week_ehc": "plans_issued_20_weeks_ex", "no_exc_20week_rate": "pc_plans_issued_20_weeks_ex"}
# The timeliness measures, by the words the reconciliation shows
TIMELINESS = {
    "plans issued": "plans_issued_den",
    "plans issued (excl. exceptions)": "plans_issued_den_ex",
    "within 20 weeks (incl. exceptions)": "plans_issued_within_20_weeks",
    "within 20 weeks (excl. exceptions)": "plans_issued_20_weeks_ex",
    "20 to 52 weeks (incl. exceptions)": "plans_issued_gt20weeks_ltyear",
    "over a year (incl. exceptions)": "plans_issued_gt_1_year",
    "average weeks (incl. exceptions)": "avg_weeks_issue_plan",
    "average weeks (excl. exceptions)": "avg_weeks_issue_plan_exc",
}


def read_rows(path: Path, option: str) -> list[dict[str, str]]:
    """Every row as a dict of lower-cased column -> text; one line when the file cannot be read."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise EhcpError(f"{option} {path.name}: {size:,} bytes is larger than any DfE file")
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("cp1252", errors="replace")
    except OSError as exc:
        raise EhcpError(f"{option} {path}: cannot read the file ({exc.strerror})") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lstrip("\ufeff").lower() for h in next(reader)]
    except StopIteration:
        raise EhcpError(f"{option} {path.name}: the file is empty") from None
    header = [SEN2_MI_NAMES.get(h, h) for h in header]
    return [dict(zip(header, (c.strip() for c in row))) for row in reader if any(c.strip() for c in row)]


def number(text: str | None) -> float:
    text = (text or "").strip().replace(",", "")
    if text.lower() in NOT_AVAILABLE:
        return math.nan
    try:
        return float(text)
    except ValueError:
        return math.nan


def is_total(row: dict[str, str]) -> bool:
    """The all-plans row: breakdown (or, where absent, breakdown_topic) under either edition's name."""
    value = row.get("breakdown") or row.get("breakdown_topic") or ""
    return value.strip().lower() in TOTAL_ROWS or ("breakdown" not in row and "breakdown_topic" not in row)


def is_area(row: dict[str, str], code: str) -> bool:
    code = code.strip().upper()
    return row.get("old_la_code", "").strip() == code or row.get("new_la_code", "").strip().upper() == code


def timeliness_row(path: Path, la: str, year: int, option: str = "--dfe") -> tuple[dict[str, float] | None, str | None]:
    """(the council's published figures for ``year``, None) or (None, the one line saying why not)."""
    rows = read_rows(path, option)
    if rows and "time_period" not in rows[0]:
        raise EhcpError(f"{option} {Path(path).name}: row 1: not DfE's timeliness_20_week.csv (no time_period column)")
    years = sorted({r.get("time_period", "")[:4] for r in rows})
    found = [r for r in rows if r.get("time_period", "")[:4] == str(year) and is_total(r)
             and r.get("geographic_level", "").strip().lower() == "local authority" and is_area(r, la)]
    if not found:
        return None, (f"{option} {Path(path).name}: no all-plans row for LA {la} in {year} "
                      f"(the file has years {', '.join(years) or 'none'})")
    return {words: number(found[0].get(column)) for words, column in TIMELINESS.items()}, None


# The other files of the release, by the words the reconciliation shows (each edition's spelling).
# phase_transfers.csv (2026 edition on) names its columns by the two-digit year: due_25, final_25
# for 2025 ("{yy}" below is the row's year).
KPI_FILES = {
    "requests": {"decisions whether to assess within 6 weeks": ("request_outcome_six_weeks",),
                 "decisions whether to assess over 6 weeks": ("request_outcome_over_6_weeks",)},
    "annual_reviews": {"review decisions within 4 weeks": ("decision_4_weeks", "number_decsion_4weeks",
                                                           "number_decision_4weeks"),
                       "review decisions over 4 weeks": ("decision_over_4_weeks", "number_decision_gt_4weeks")},
    "phase_transfers": {"phase transfer reviews due in the year": ("due_{yy}",),
                        "final plans after a phase transfer review issued in the year": ("final_{yy}",)},
}
KPI_FILE_NAMES = {"timeliness": "timeliness_20_week.csv", "requests": "requests.csv",
                  "annual_reviews": "annual_reviews.csv", "phase_transfers": "phase_transfers.csv"}


def file_kind(columns) -> str | None:
    """timeliness, requests, annual_reviews or phase_transfers, from the columns the file has."""
    columns = set(columns)
    if "plans_issued_den" in columns:
        return "timeliness"
    if any(c.startswith("due_") for c in columns) and any(c.startswith("final_") for c in columns):
        return "phase_transfers"
    for kind, measures in KPI_FILES.items():
        if any(name in columns for names in measures.values() for name in names):
            return kind
    return None


def is_kpi_total(row: dict[str, str]) -> bool:
    """The all-cases row of a requests, annual-reviews or phase-transfers file: no breakdown at all
    (phase_transfers.csv), or a breakdown named "All ..." ("All reviews of EHC plans", "All requests")
    or "Total"."""
    value = (row.get("breakdown") or row.get("breakdown_topic") or "").strip().lower()
    if "breakdown" not in row and "breakdown_topic" not in row:
        return True
    return value in TOTAL_ROWS or value.startswith("all ") or value == "total"


def kpi_measures(kind: str, row: dict[str, str], year: int) -> dict[str, float]:
    """The row's measures, by the words of ``KPI_FILES``, under whichever edition's name it has."""
    out = {}
    for words, names in KPI_FILES[kind].items():
        names = [n.format(yy=f"{year % 100:02d}") for n in names]
        column = next((n for n in names if n in row), None)
        out[words] = number(row.get(column)) if column else math.nan
    return out


def _topic_is_total(row: dict[str, str]) -> bool:
    topic = (row.get("breakdown_topic") or "").strip().lower()
    return topic.startswith("all ") or topic == "total" or topic == (row.get("breakdown") or "").strip().lower()


def release_rows(path: Path, option: str = "--dfe") -> tuple[str, list[dict[str, str]]]:
    """(kind, the file's all-cases rows): one line when it is none of the release's files. Where a
    topic holds an "All ..." row of its own, the row whose topic is the total too comes first."""
    rows = read_rows(path, option)
    kind = file_kind(rows[0]) if rows else None
    if kind is None:
        raise EhcpError(f"{option} {Path(path).name}: row 1: not one of DfE's timeliness_20_week.csv, requests.csv, "
                        "annual_reviews.csv or phase_transfers.csv (none of their measure columns)")
    if kind == "timeliness":
        return kind, [r for r in rows if is_total(r)]
    return kind, sorted((r for r in rows if is_kpi_total(r)), key=lambda r: not _topic_is_total(r))


def kpi_row(path: Path, la: str, year: int, option: str = "--dfe") -> tuple[dict[str, float], str | None]:
    """The council's figures from any of the release's files (timeliness, requests, annual reviews,
    phase transfers)."""
    kind, rows = release_rows(path, option)
    if kind == "timeliness":
        found, why = timeliness_row(path, la, year, option)
        return found or {}, why
    years = sorted({r.get("time_period", "")[:4] for r in rows})
    chosen = [r for r in rows if r.get("time_period", "")[:4] == str(year) and is_area(r, la)
              and r.get("geographic_level", "local authority").strip().lower() == "local authority"][:1]
    if not chosen:
        return {}, (f"{option} {Path(path).name}: no row for LA {la} in {year} (the file has years "
                    f"{', '.join(years) or 'none'})")
    return kpi_measures(kind, chosen[0], year), None
