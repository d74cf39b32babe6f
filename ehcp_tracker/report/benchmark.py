"""Benchmarks: the council's 20-week figures beside England, its region and comparator councils,
from the DfE's published ``timeliness_20_week.csv`` read exactly as downloaded.

The file is the DfE statistics release "Education, health and care plans" (any year's edition): one
row per calendar year, geographic level (National, Regional, Local authority) and breakdown. Its
columns are matched case-insensitively (the 2025 edition spelt some ``PC_...``); the DfE's symbols
(``x`` not available, ``z`` not applicable, ``c`` confidential, ``low``, ``u``) read as blank. Councils
are named by their old (``340``) or new (``E08000011``) LA code. No national figure is shipped with
the tool: the file is the user's, and the pack says which edition's years it shows.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import Engine

from ..clocks.rules import RuleBook
from ..errors import EhcpError
from ..sen2.dfe import TOTAL_ROWS
from .data import read_csv_rows

# The measures shown, by the DfE's column names (lower case): plans issued (incl. exceptions), % within
# 20 weeks incl. and excl. exceptions, and the average weeks to issue (2026 release on).
DFE_MEASURES = {
    "plans_issued_den": "plans_issued",
    "pc_plans_issued_within_20_weeks": "within_20_weeks",
    "pc_plans_issued_20_weeks_ex": "within_20_weeks_excl_exceptions",
    "avg_weeks_issue_plan": "avg_weeks_to_final_plan",
}
# The tracker's KPI for each measure (the same definitions: catalogue sources cite these columns).
OUR_KPIS = {"plans_issued": "plans_issued", "within_20_weeks": "plans_within_20_weeks",
            "within_20_weeks_excl_exceptions": "plans_within_20_weeks_excl_exceptions",
            "avg_weeks_to_final_plan": "avg_weeks_to_final_plan"}
MEASURE_WORDS = {"plans_issued": "Final plans issued", "within_20_weeks": "% within 20 weeks (incl. exceptions)",
                 "within_20_weeks_excl_exceptions": "% within 20 weeks (excl. exceptions)",
                 "avg_weeks_to_final_plan": "Average weeks to final plan"}
REQUIRED = ("time_period", "geographic_level", "plans_issued_den")
NOT_AVAILABLE = {"x", "z", "c", "low", "u", ":", ""}
BENCHMARK_COLUMNS = ["year", "area", "role", *DFE_MEASURES.values()]


def read_dfe(path: Path) -> pd.DataFrame:
    """The DfE rows, all plans only, columns lower-cased, measures as floats (blank where the DfE
    wrote a symbol). A file that is not the DfE's 20-week file is one line naming what is missing."""
    path = Path(path)
    rows = read_csv_rows(path, "--benchmark")
    if not rows:
        raise EhcpError(f"--benchmark {path}: the file is empty")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise EhcpError(f"--benchmark {path}: row 1: not the DfE timeliness_20_week.csv (no column "
                        f"{', '.join(missing)})")
    frame = pd.DataFrame([r + [""] * (len(header) - len(r)) for r in rows[1:]], columns=header, dtype=object)
    totals = pd.Series(False, index=frame.index)
    for column in ("breakdown", "breakdown_topic"):  # the total row: "All EHC plans issued" (2025 edition),
        if column in frame:                          # "All EHC plans" (2026 on); sen2.dfe reads both
            totals |= frame[column].str.strip().str.lower().isin(TOTAL_ROWS)
    if "breakdown" in frame or "breakdown_topic" in frame:
        frame = frame[totals]
    for column in DFE_MEASURES:
        if column not in frame:
            frame[column] = ""
        frame[column] = [_number(v, path, i + 2, column) for i, v in zip(frame.index, frame[column])]
    frame["time_period"] = frame["time_period"].str.strip().str[:4]
    return frame


def _number(value, path: Path, row: int, column: str) -> float:
    text = str(value).strip().replace(",", "")
    if text.lower() in NOT_AVAILABLE:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise EhcpError(f"--benchmark {path}: row {row}, column {column}: {value!r} is neither a number nor a "
                        "DfE symbol (x, z, c, low, u)") from None


def _is(frame: pd.DataFrame, code: str) -> pd.Series:
    code = code.strip().upper()
    old = frame["old_la_code"].str.strip() if "old_la_code" in frame else pd.Series("", index=frame.index)
    new = frame["new_la_code"].str.strip().str.upper() if "new_la_code" in frame else pd.Series("", index=frame.index)
    return (old == code) | (new == code)


def benchmark_gaps(path: Path, council: str | None, dfe: pd.DataFrame | None = None) -> list[str]:
    """One line for each benchmark the file cannot give (England's rows, the council's), so an empty
    table is never left unexplained: a new user's first try with the wrong edition or code."""
    dfe = read_dfe(path) if dfe is None else dfe
    name = Path(path).name
    if not len(dfe):
        return [f"--benchmark {name}: no all-plans rows (breakdown 'All EHC plans' or 'All EHC plans issued'): "
                "is this DfE's timeliness_20_week.csv?"]
    level = dfe["geographic_level"].str.strip().str.lower()
    years = ", ".join(sorted(dfe["time_period"].unique()))
    gaps = []
    if not (level == "national").any():
        gaps.append(f"--benchmark {name}: no England (National) all-plans row in {years}")
    if council and not ((level == "local authority") & _is(dfe, council)).any():
        gaps.append(f"--benchmark {name}: no all-plans row for LA {council} in {years} "
                    "(old codes such as 340 and new ones such as E08000011 are both matched)")
    return gaps


def benchmark_table(path: Path, engine: Engine, book: RuleBook, as_of: dt.date, source, options) -> pd.DataFrame:
    """For each calendar year in the file: this council (the tracker's own figures for that year, to
    the as-of date), England, the council's region (from its row, when ``options.council`` is given
    and in the file), the council's published row, and each comparator; one row per (year, area)."""
    dfe = read_dfe(path)
    level = dfe["geographic_level"].str.strip().str.lower()
    rows = []
    for year in sorted(dfe["time_period"].unique()):
        of_year = dfe[dfe["time_period"] == year]
        ours = _our_figures(int(year), engine, book, as_of, source, options)
        if ours is not None:
            rows.append({"year": year, "area": "This council (ehcp-tracker)", "role": "council", **ours})
        level_of_year = level[of_year.index]
        national = of_year[level_of_year == "national"]
        rows += [_row(year, "England", "england", r) for _, r in national.iterrows()]
        council = of_year[(level_of_year == "local authority") & _is(of_year, options.council)] \
            if options.council else of_year.iloc[0:0]
        if len(council) and "region_code" in of_year:
            region = of_year[(level_of_year == "regional") & (of_year["region_code"] == council.iloc[0]["region_code"])]
            rows += [_row(year, r.get("region_name") or "Region", "region", r) for _, r in region.iterrows()]
        rows += [_row(year, f"{r.get('la_name', '')} (published)", "council_published", r) for _, r in council.iterrows()]
        for code in options.compare_with:
            found = of_year[(level_of_year == "local authority") & _is(of_year, code)]
            if len(found):
                rows += [_row(year, r.get("la_name") or code, "comparator", r) for _, r in found.iterrows()]
            else:
                rows.append({"year": year, "area": f"LA {code} (not in the file)", "role": "comparator"})
    return pd.DataFrame(rows, columns=BENCHMARK_COLUMNS)


def _row(year: str, area: str, role: str, record) -> dict:
    return {"year": year, "area": area, "role": role, **{name: record[column] for column, name in DFE_MEASURES.items()}}


def _our_figures(year: int, engine: Engine, book: RuleBook, as_of: dt.date, source, options) -> dict | None:
    """The tracker's figures for calendar ``year`` (January to December, or to the as-of date), on
    the DfE's definitions; ``None`` for a year after the as-of date."""
    if dt.date(year, 1, 1) > as_of:
        return None
    from ..listings import Filters
    from ..measures.kpi import compute_kpis, month_index

    wanted = [k for k in OUR_KPIS.values() if k in {c.id for c in source.catalogue.kpis}]
    last = min(dt.date(year, 12, 1), as_of.replace(day=1))
    frame = compute_kpis(engine, book, source.catalogue.only(wanted), month=month_index(last.year, last.month),
                         as_of=as_of, filters=Filters(team=options.team), year_start=1)
    ytd = frame[frame["basis"] == "year_to_date"].set_index("kpi")
    out = {}
    for name, kpi in OUR_KPIS.items():
        if kpi in ytd.index:
            value = ytd.loc[kpi, "numerator"] if name == "plans_issued" else ytd.loc[kpi, "value"]
            out[name] = math.nan if value is None else float(value)
    return out
