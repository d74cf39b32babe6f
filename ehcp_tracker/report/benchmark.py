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


# ---- the other KPIs DfE publishes: requests.csv, annual_reviews.csv, phase_transfers.csv ----------------
#
# Each file's measure beside the tracker's KPI of the same definition (the catalogue's source cites the
# file). DfE publishes counts; the rates are worked out here from them as DfE's own percentage columns
# are (within / (within + over)). phase_transfers.csv (2026 edition on) holds counts of plans whose
# phase-transfer review was due in the year and of final plans issued after one, not a rate by the
# deadline: the tracker's own rate is shown beside them, with no published counterpart.
KPI_BENCHMARKS = [
    # (file kind, measure, words, unit, the tracker's KPI and which of its figures)
    ("requests", "decisions_within_6_weeks", "Decisions whether to assess within 6 weeks (%)", "percent",
     ("decisions_within_6_weeks", "value")),
    ("annual_reviews", "review_decisions_within_4_weeks", "Review decisions within 4 weeks of the meeting (%)",
     "percent", ("review_decisions_within_4_weeks", "value")),
    ("phase_transfers", "phase_transfer_reviews_due", "Phase transfer reviews due in the year", "count",
     ("phase_transfers_by_deadline", "denominator")),
    ("phase_transfers", "phase_transfer_final_plans", "Final plans after a phase transfer review, issued in the year",
     "count", None),
    ("phase_transfers", "phase_transfers_by_deadline", "Phase transfers completed by the deadline (%)", "percent",
     ("phase_transfers_by_deadline", "value")),
]
KPI_BENCHMARK_COLUMNS = ["year", "measure", "words", "unit", "area", "role", "value", "numerator", "denominator"]


def split_benchmarks(paths) -> tuple[Path | None, tuple[Path, ...]]:
    """(the timeliness file, the other release files) of the ``--benchmark`` files, told apart by
    their columns; a file that is none of them is read as the timeliness file, whose reader says in
    one line what it lacks. Two files of one kind are one line too."""
    from ..sen2.dfe import KPI_FILE_NAMES, file_kind, read_rows

    timeliness, others, seen = None, [], {}
    for path in map(Path, paths):
        rows = read_rows(path, "--benchmark")
        kind = (file_kind(rows[0]) if rows else None) or "timeliness"
        if kind in seen:
            raise EhcpError(f"--benchmark {path.name}: a second {KPI_FILE_NAMES[kind]} (the first was "
                            f"{seen[kind].name}): give each DfE file once")
        seen[kind] = path
        if kind == "timeliness":
            timeliness = path
        else:
            others.append(path)
    return timeliness, tuple(others)


def _published(kind: str, row: dict, year: int) -> dict[str, float]:
    """The measures of one all-cases row of a release file."""
    from ..sen2.dfe import kpi_measures

    found = kpi_measures(kind, row, year)

    def rate(within: str, over: str) -> float:
        a, b = found.get(within, math.nan), found.get(over, math.nan)
        return round(100 * a / (a + b), 1) if not (math.isnan(a) or math.isnan(b)) and a + b > 0 else math.nan

    if kind == "requests":
        return {"decisions_within_6_weeks": rate("decisions whether to assess within 6 weeks",
                                                 "decisions whether to assess over 6 weeks")}
    if kind == "annual_reviews":
        return {"review_decisions_within_4_weeks": rate("review decisions within 4 weeks",
                                                        "review decisions over 4 weeks")}
    return {"phase_transfer_reviews_due": found["phase transfer reviews due in the year"],
            "phase_transfer_final_plans": found["final plans after a phase transfer review issued in the year"]}


def kpi_benchmark_table(paths, engine: Engine, book: RuleBook, as_of: dt.date, source, options) -> pd.DataFrame:
    """For each file, calendar year and measure: this council (the tracker's figure), England, the
    council's region and its published row, and each comparator; one row per (year, measure, area)."""
    from ..sen2.dfe import release_rows

    rows = []
    for path in paths:
        kind, found = release_rows(Path(path), "--benchmark")
        measures = [m for m in KPI_BENCHMARKS if m[0] == kind]
        for year in sorted({r.get("time_period", "")[:4] for r in found if r.get("time_period", "")[:4].isdigit()}):
            of_year = [r for r in found if r.get("time_period", "")[:4] == year]
            ours = _our_kpis(int(year), [m[4][0] for m in measures if m[4]], engine, book, as_of, source, options)

            def add(area: str, role: str, values: dict[str, float] | None, mine: bool = False) -> None:
                for _, measure, words, unit, kpi in measures:
                    if mine:
                        if kpi is None or ours is None or kpi[0] not in ours:
                            continue
                        figures = ours[kpi[0]]
                        rows.append({"year": year, "measure": measure, "words": words, "unit": unit, "area": area,
                                     "role": role, "value": figures[kpi[1]], "numerator": figures["numerator"],
                                     "denominator": figures["denominator"]})
                    elif measure in (values or {}):
                        rows.append({"year": year, "measure": measure, "words": words, "unit": unit, "area": area,
                                     "role": role, "value": values[measure]})

            add("This council (ehcp-tracker)", "council", None, mine=True)
            level = [r.get("geographic_level", "").strip().lower() for r in of_year]
            national = [r for r, lvl in zip(of_year, level) if lvl == "national"][:1]  # the first all-cases row
            for r in national:
                add("England", "england", _published(kind, r, int(year)))
            council = [r for r, lvl in zip(of_year, level) if lvl == "local authority" and options.council
                       and _matches(r, options.council)]
            if council:
                region = council[0].get("region_code", "")
                regional = [r for r, lvl in zip(of_year, level)
                            if lvl == "regional" and region and r.get("region_code", "") == region][:1]
                for r in regional:
                    add(r.get("region_name") or "Region", "region", _published(kind, r, int(year)))
                add(f"{council[0].get('la_name', '')} (published)", "council_published",
                    _published(kind, council[0], int(year)))
            for code in options.compare_with:
                match = [r for r, lvl in zip(of_year, level) if lvl == "local authority" and _matches(r, code)]
                if match:
                    add(match[0].get("la_name") or code, "comparator", _published(kind, match[0], int(year)))
                else:
                    rows.append({"year": year, "measure": measures[0][1], "words": measures[0][2],
                                 "unit": measures[0][3], "area": f"LA {code} (not in the file)", "role": "comparator"})
    return pd.DataFrame(rows, columns=KPI_BENCHMARK_COLUMNS)


def _matches(row: dict, code: str) -> bool:
    from ..sen2.dfe import is_area

    return is_area(row, code)


def kpi_benchmark_gaps(paths, council: str | None) -> list[str]:
    """One line for each file whose England or council rows are not there (so an empty table is
    never left unexplained), naming the years the file has."""
    from ..sen2.dfe import release_rows

    gaps = []
    for path in paths:
        name = Path(path).name
        kind, found = release_rows(Path(path), "--benchmark")
        years = ", ".join(sorted({r.get("time_period", "")[:4] for r in found})) or "none"
        if not found:
            gaps.append(f"--benchmark {name}: no all-cases rows (breakdown 'All ...' or 'Total', or none): is this "
                        f"DfE's {kind.replace('_', ' ')} file as downloaded?")
            continue
        level = [r.get("geographic_level", "").strip().lower() for r in found]
        if "national" not in level:
            gaps.append(f"--benchmark {name}: no England (National) all-cases row in {years}")
        if council and not any(lvl == "local authority" and _matches(r, council) for r, lvl in zip(found, level)):
            gaps.append(f"--benchmark {name}: no all-cases row for LA {council} in {years} "
                        "(old codes such as 340 and new ones such as E08000011 are both matched)")
    return gaps


def _our_kpis(year: int, kpis: list[str], engine: Engine, book: RuleBook, as_of: dt.date, source,
              options) -> dict[str, dict[str, float]] | None:
    """The tracker's figures (value, numerator, denominator) of ``kpis`` for calendar ``year``, to the
    as-of date; ``None`` for a year after it."""
    if dt.date(year, 1, 1) > as_of or not kpis:
        return None
    from ..listings import Filters
    from ..measures.kpi import compute_kpis, month_index

    wanted = [k for k in kpis if k in {c.id for c in source.catalogue.kpis}]
    if not wanted:
        return {}
    last = min(dt.date(year, 12, 1), as_of.replace(day=1))
    frame = compute_kpis(engine, book, source.catalogue.only(wanted), month=month_index(last.year, last.month),
                         as_of=as_of, filters=Filters(team=options.team), year_start=1)
    ytd = frame[frame["basis"] == "year_to_date"].set_index("kpi")

    def figure(value) -> float:
        return math.nan if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)

    return {kpi: {name: figure(ytd.loc[kpi, name]) for name in ("value", "numerator", "denominator")}
            for kpi in wanted if kpi in ytd.index}
