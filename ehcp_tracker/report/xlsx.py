"""The board pack as an Excel workbook: a sheet per section, real date cells, percentages as
percentages (the value / 100, shown ``0.0%``), frozen headers, sensible widths, and a line chart of
the 20-week KPI over twelve months. Text from the case system is neutralised against formula
injection, as in every export.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import NamedTuple

import pandas as pd

from ..output import neutralise
from .data import EXAMPLE_TARGET, KIND_WORDS, QUERY_INTRO, PackData

PERCENT = "0.0%"
COUNT = "#,##0"
DATE = "dd/mm/yyyy"
MONTH = "mmm yyyy"
RAG_WORDS = {"green": "Green", "amber": "Amber", "red": "Red", "no_target": "No target", "no_data": "No data"}
RAG_FILLS = {"Green": "DAFBE1", "Amber": "FFF1C2", "Red": "FFE1E1"}
TWENTY_WEEKS = ("plans_within_20_weeks", "plans_within_20_weeks_excl_exceptions")


class Typed(NamedTuple):
    """A cell whose kind differs by row (a KPI value is a percentage or a count)."""

    value: object
    kind: str


def _blank(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _cell(value, kind: str):
    """(value, number_format) for one cell; kind is text, count, percent, number, date or month."""
    if _blank(value):
        return None, None
    if isinstance(value, str) and value.startswith("fewer than"):  # a public pack's suppressed count
        return value, None
    if kind == "percent":
        return float(value) / 100, PERCENT
    if kind == "weeks":
        return float(value), "0.0"
    if kind == "count":
        return int(round(float(value))), COUNT
    if kind == "number":
        return float(value), "0.0"
    if kind in ("date", "month"):
        if isinstance(value, str):
            if not re.fullmatch(r"\d{4}-\d{2}(-\d{2})?", value):
                return neutralise(value), None
            value = pd.Timestamp(value if len(value) == 10 else f"{value}-01")
        day = value.date() if isinstance(value, (pd.Timestamp, dt.datetime)) else value
        return day, DATE if kind == "date" else MONTH
    if hasattr(value, "item"):
        value = value.item()
    return (neutralise(value) if isinstance(value, str) else value), None


def write_sheet(workbook, title: str, columns: list[tuple[str, str]], rows: list[list], widths: dict | None = None):
    """A sheet with a bold frozen header row, typed cells, an autofilter and widths fitted to the text."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet = workbook.create_sheet(title[:31])
    sheet.append([name for name, _ in columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        cells = []
        for (name, kind), value in zip(columns, row):
            cells.append(_cell(value.value, value.kind) if isinstance(value, Typed) else _cell(value, kind))
        sheet.append([v for v, _ in cells])
        for cell, (_, number_format) in zip(sheet[sheet.max_row], cells):
            if number_format:
                cell.number_format = number_format
    for i, (name, kind) in enumerate(columns, start=1):
        sample = [len(str(r[i - 1].value if isinstance(r[i - 1], Typed) else r[i - 1])) for r in rows[:200]
                  if not _blank(r[i - 1])]
        width = max([len(name)] + sample + [12 if kind in ("date", "month") else 0])
        sheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 9), 70)
    sheet.freeze_panes = "B2"
    if rows:
        sheet.auto_filter.ref = sheet.dimensions
    return sheet


def _unit_kind(unit: str) -> str:
    return {"percent": "percent", "weeks": "weeks", "number": "number"}.get(unit, "count")


def _sheet_name(pack: PackData) -> str:
    return f"Headline {pack.month_label}"


def build(pack: PackData):
    from openpyxl import Workbook

    from .html import _header

    workbook = Workbook()
    workbook.remove(workbook.active)
    _headline(workbook, pack)
    _twenty_weeks(workbook, pack)
    trend_rows = []
    for r in pack.trend.itertuples(index=False):
        kind = _unit_kind(r.unit)
        trend_rows.append([r.title, r.month, Typed(r.numerator, "count"), Typed(r.denominator, "count"),
                           Typed(r.value, kind), Typed(r.target, kind), "partial" if r.complete == "no" else "",
                           r.kpi])
    write_sheet(workbook, "Twelve-month trend", [("Measure", "text"), ("Month", "month"), ("Counted", "count"),
                                                 ("Out of", "count"), ("Value", "count"), ("Target", "count"),
                                                 ("Complete?", "text"), ("Reference", "text")], trend_rows)
    if pack.benchmark is not None:
        from .benchmark import MEASURE_WORDS

        b = pack.benchmark
        kinds = {"plans_issued": "count", "within_20_weeks": "percent", "within_20_weeks_excl_exceptions": "percent",
                 "avg_weeks_to_final_plan": "number"}
        write_sheet(workbook, "Benchmarks", [("Year", "text"), ("Area", "text"),
                                             *((MEASURE_WORDS[k], kinds[k]) for k in kinds)],
                    b[["year", "area", *kinds]].astype(object).values.tolist())
    if getattr(pack, "kpi_benchmark", None) is not None:  # requests, annual reviews, phase transfers
        k = pack.kpi_benchmark
        write_sheet(workbook, "Benchmarks, other KPIs", [("Year", "text"), ("Measure", "text"), ("Area", "text"),
                                                         ("Value", "number"), ("Unit", "text")],
                    [[r.year, r.words, r.area, Typed(r.value, "percent" if r.unit == "percent" else "count"),
                      r.unit] for r in k.itertuples(index=False)])
    tracker = pack.tracker
    kinds = [("month" if c == "month" else "percent" if re.search(r"pct|percent|%", str(c)) else
              "count" if pd.api.types.is_numeric_dtype(tracker[c]) or tracker[c].dtype == object else "text")
             for c in tracker.columns]
    write_sheet(workbook, "Monthly tracker", list(zip((_header(str(c)) for c in tracker.columns), kinds)),
                tracker.values.tolist())
    a = pack.ageing_assessments
    write_sheet(workbook, "Ageing of assessments", [("Time since the request", "text"), ("Open assessments", "count"),
                                                    ("With an exception", "count"), ("Past 20 weeks", "text")],
                a[["band", "open_cases", "with_exception", "past_20_weeks"]].values.tolist())
    r = pack.ageing_reviews
    write_sheet(workbook, "Ageing of reviews", [("Months overdue", "text"), ("Open reviews", "count"),
                                                ("With an exception", "count")],
                r[["band", "open_reviews", "with_exception"]].values.tolist())
    if not pack.options.public:
        b = pack.backlog.copy()
        b["kind"] = b["kind"].map(lambda k: KIND_WORDS.get(k, k))
        b["clock"] = b["clock"].map(lambda c: pack.clock_titles.get(c, c))
        write_sheet(workbook, "Backlog", [("Case", "text"), ("Kind of case", "text"), ("Team", "text"),
                                          ("Deadline", "text"), ("Due", "date"), ("Weeks overdue", "count"),
                                          ("Band", "text"), ("Exception", "text")], b.astype(object).values.tolist())
    elif pack.backlog_counts is not None:
        c = pack.backlog_counts
        write_sheet(workbook, "Backlog", [("Kind of case", "text"), ("Deadline", "text"), ("Cases", "count"),
                                          ("With an exception", "count"),
                                          ("Longest wait past the deadline (weeks)", "count")],
                    c.astype(object).values.tolist())
    if pack.commentary is not None and len(pack.commentary):
        write_sheet(workbook, "Commentary", [("Measure", "text"), ("Commentary", "text"), ("Action", "text"),
                                             ("Owner", "text")],
                    [[_title(pack, r.kpi), r.commentary, r.action, r.owner] for r in pack.commentary.itertuples()])
    notes = [[n, None] for n in pack.notes] + [[f"Needs commentary: {t}", None] for t in pack.needs_commentary]
    if pack.query_counts is not None:  # the queries by code, each with what to do and how to list them
        notes.append([QUERY_INTRO, None])
        notes += [[f"Query {r.code}: {r.action} (list them: {r.listing})", r.cases]
                  for r in pack.query_counts.itertuples(index=False)]
        if not len(pack.query_counts):
            notes.append(["No queries.", None])
    write_sheet(workbook, "Data quality", [("Note", "text"), ("Cases", "count")], notes or [["None found", None]])
    about = [["Month", pack.month_label], ["Figures as at", Typed(pack.as_of, "date")],
             ["Rule book version", pack.rule_fingerprint], *(["Rule file", f] for f in pack.rule_files),
             ["KPI figures", pack.kpi_source], ["Produced by", f"ehcp-tracker {pack.version}"]]
    if pack.audience:
        about.insert(1, ["For", pack.audience])
    write_sheet(workbook, "About", [("Item", "text"), ("Value", "text")], about)
    return workbook


def _title(pack: PackData, kpi: str) -> str:
    found = pack.headline[pack.headline["kpi"] == kpi]
    return found["title"].iloc[0] if len(found) else kpi


def _target_set_by(pack: PackData, target) -> str:
    """Whose target it is: the example trajectory's (EXAMPLE_TARGET) or the council's."""
    if target is None or (isinstance(target, float) and math.isnan(target)):
        return ""
    return EXAMPLE_TARGET if pack.example_targets else "this council"


def _headline(workbook, pack: PackData) -> None:
    columns = [("Measure", "text"), (pack.month_label, "count"), ("Counted", "count"), ("Out of", "count"),
               ("Target", "count"), ("Against target", "text"), ("Last month", "count"), ("Change", "number"),
               ("Direction of travel", "text"), ("Year to date", "count"), ("Year to date: counted", "count"),
               ("Year to date: out of", "count"), ("Rolling 12 months", "count"), ("Same month last year", "count"),
               ("Complete?", "text"), ("Reference", "text"), ("Target set by", "text")]
    rows = []
    for r in pack.headline.itertuples(index=False):
        kind = _unit_kind(r.unit)
        direction = "" if r.movement == "none" else f"{r.movement} {r.judgement}".strip()
        rows.append([r.title, Typed(r.value, kind), r.numerator, r.denominator, Typed(r.target, kind),
                     RAG_WORDS.get(r.rag, "No target"),
                     Typed(r.previous, kind), Typed(r.change, "number" if kind != "count" else "count"),
                     direction, Typed(r.ytd_value, kind), r.ytd_numerator, r.ytd_denominator,
                     Typed(r.rolling_value, kind), Typed(r.last_year_value, kind),
                     "partial" if r.complete == "no" else "yes", r.kpi, _target_set_by(pack, r.target)])
    sheet = write_sheet(workbook, _sheet_name(pack), columns, rows)
    from openpyxl.styles import PatternFill

    for cell in sheet["F"][1:]:  # RAG is written as a word; the fill only repeats it
        if cell.value in RAG_FILLS:
            cell.fill = PatternFill("solid", fgColor=RAG_FILLS[cell.value])


def _twenty_weeks(workbook, pack: PackData) -> None:
    """The 20-week KPI (incl. and excl. exceptions) with its target, month by month, and a line chart."""
    from openpyxl.chart import LineChart, Reference

    trend = pack.trend
    months = list(dict.fromkeys(trend["month"]))
    series = {k: trend[trend["kpi"] == k].set_index("month") for k in TWENTY_WEEKS if (trend["kpi"] == k).any()}
    if not series:
        return
    first = next(iter(series.values()))
    legend = {"plans_within_20_weeks": "Within 20 weeks, including exceptions",
              "plans_within_20_weeks_excl_exceptions": "Within 20 weeks, excluding exceptions"}
    columns = [("Month", "month"), *((legend[k], "percent") for k in series), ("Target", "percent")]
    rows = [[m, *(s.loc[m, "value"] for s in series.values()), first.loc[m, "target"]] for m in months]
    sheet = write_sheet(workbook, "20-week trend", columns, rows)
    chart = LineChart()
    chart.title = "Final plans issued within 20 weeks"
    chart.y_axis.title = "% within 20 weeks"
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, 1
    chart.x_axis.number_format = MONTH
    chart.x_axis.title = "Month the plan was issued"
    chart.height, chart.width = 9, 20
    data = Reference(sheet, min_col=2, max_col=len(columns), min_row=1, max_row=len(rows) + 1)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(sheet, min_col=1, min_row=2, max_row=len(rows) + 1))
    chart.series[-1].graphicalProperties.line.dashStyle = "dash"
    for s in chart.series:
        s.smooth = False
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    sheet.add_chart(chart, f"{chr(ord('A') + len(columns) + 1)}2")


def save(pack: PackData, path: Path) -> None:
    """The workbook, written through ``files.atomic_open`` (temporary file, rename, ``0600``)."""
    from ..files import atomic_open

    with atomic_open(path, "wb") as handle:
        build(pack).save(handle)
