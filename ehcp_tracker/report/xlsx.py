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
from .data import PackData

PERCENT = "0.0%"
COUNT = "#,##0"
DATE = "dd/mm/yyyy"
MONTH = "mmm yyyy"
RAG_WORDS = {"green": "Green", "amber": "Amber", "red": "Red", "none": "No target"}
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
    if kind == "percent":
        return float(value) / 100, PERCENT
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
    return "percent" if unit == "percent" else "count"


def build(pack: PackData):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.remove(workbook.active)
    _headline(workbook, pack)
    _twenty_weeks(workbook, pack)
    trend_rows = []
    for r in pack.trend.itertuples(index=False):
        kind = _unit_kind(r.unit)
        trend_rows.append([r.kpi, r.title, r.month, r.numerator, r.denominator, Typed(r.value, kind),
                           Typed(r.target, kind)])
    write_sheet(workbook, "Trend", [("kpi", "text"), ("title", "text"), ("month", "month"), ("numerator", "count"),
                                    ("denominator", "count"), ("value", "count"), ("target", "count")], trend_rows)
    tracker = pack.tracker
    kinds = [("month" if c == "month" else "percent" if re.search(r"pct|percent|%", str(c)) else
              "count" if pd.api.types.is_numeric_dtype(tracker[c]) else "text") for c in tracker.columns]
    write_sheet(workbook, "Tracker", list(zip(map(str, tracker.columns), kinds)), tracker.values.tolist())
    a = pack.ageing_assessments
    write_sheet(workbook, "Ageing assessments", [("band", "text"), ("open_cases", "count"),
                                                 ("with_exception", "count"), ("past_20_weeks", "text")],
                a[["band", "open_cases", "with_exception", "past_20_weeks"]].values.tolist())
    r = pack.ageing_reviews
    write_sheet(workbook, "Ageing reviews", [("band", "text"), ("open_reviews", "count"), ("with_exception", "count")],
                r[["band", "open_reviews", "with_exception"]].values.tolist())
    b = pack.backlog
    write_sheet(workbook, "Backlog", [("case_id", "text"), ("kind", "text"), ("team", "text"), ("clock", "text"),
                                      ("due", "date"), ("weeks_overdue", "count"), ("band", "text"),
                                      ("exception", "text")], b.astype(object).values.tolist())
    write_sheet(workbook, "Data quality", [("note", "text")], [[n] for n in pack.notes] or [["none found"]])
    about = [["month", pack.month], ["as_of", Typed(pack.as_of, "date")], ["rule_book_fingerprint", pack.rule_fingerprint],
             *(["rule_file", f] for f in pack.rule_files), ["kpi_source", pack.kpi_source],
             ["produced_by", f"ehcp-tracker {pack.version}"]]
    write_sheet(workbook, "About", [("item", "text"), ("value", "text")], about)
    return workbook


def _headline(workbook, pack: PackData) -> None:
    columns = [("kpi", "text"), ("title", "text"), ("value", "count"), ("numerator", "count"),
               ("denominator", "count"), ("target", "count"), ("rag", "text"), ("last_month", "count"),
               ("change", "number"), ("direction", "text"), ("ytd_value", "count"), ("ytd_numerator", "count"),
               ("ytd_denominator", "count")]
    rows = []
    for r in pack.headline.itertuples(index=False):
        kind = _unit_kind(r.unit)
        direction = "" if r.movement == "none" else f"{r.movement} {r.judgement}".strip()
        rows.append([r.kpi, r.title, Typed(r.value, kind), r.numerator, r.denominator, Typed(r.target, kind),
                     RAG_WORDS[r.rag],
                     Typed(r.previous, kind), Typed(r.change, "number" if kind == "percent" else "count"),
                     direction, Typed(r.ytd_value, kind), r.ytd_numerator, r.ytd_denominator])
    sheet = write_sheet(workbook, f"Headline {pack.month}", columns, rows)
    from openpyxl.styles import PatternFill

    for cell in sheet["G"][1:]:  # RAG is written as a word; the fill only repeats it
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
    columns = [("month", "month"), *((k, "percent") for k in series), ("target", "percent")]
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
