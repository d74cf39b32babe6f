"""Rendering listings: a table for people, CSV/JSON for scripts, XLSX for analysts.

Every export neutralises spreadsheet formula injection: a cell that starts with ``=``, ``+``, ``-``,
``@`` (or a tab or carriage return), also after leading spaces, no-break spaces or line breaks
(which Excel and LibreOffice skip), is prefixed with an apostrophe, so a caseworker name such as
``=HYPERLINK(...)`` typed into the case system cannot run in the council's Excel.

Control characters (and ANSI escape sequences, bidi overrides) never reach a terminal, a CSV or an
XLSX file: the import refuses them, and ``clean`` replaces any that reached the database before
that with U+FFFD (a vertical tab would otherwise make openpyxl refuse the whole workbook).
Every file is written through ``files.atomic_open`` (temporary file, rename, ``0600``).
"""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported where a frame is rendered: `ehcp --version` must not pay for it
    import pandas as pd

from .files import atomic_open

FORMATS = ("table", "csv", "json", "xlsx")
_DANGEROUS = ("=", "+", "-", "@", "\t", "\r", "\n")
# C0 and C1 controls (ESC starts an ANSI sequence), DEL, and the bidirectional overrides that can
# make a terminal or a spreadsheet show text other than it is. Tab, CR and LF are controls too:
# no extract value (an ID, a name, a code) legitimately holds one.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


# Nouns whose plural is not the noun + "s" (the words messages count).
_PLURALS = {"day": "days", "query": "queries", "summary": "summaries", "child": "children", "was": "were"}


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """"1 clock", "2 clocks", "1 query", "0 queries": a count with its noun, as people write it."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {plural or _PLURALS.get(noun) or (noun[:-1] + 'ies' if noun.endswith('y') and noun[-2:-1] not in 'aeiou' else noun + 's')}"


def clean(text: str) -> str:
    """``text`` with every control or bidi-override character replaced by U+FFFD."""
    return CONTROL.sub("\ufffd", text)


def neutralise(text):
    """Cleaned text, with an apostrophe before a formula (``=``, ``+``, ``-``, ``@`` first, after any
    whitespace: spreadsheets skip leading spaces, no-break spaces and line breaks)."""
    if not isinstance(text, str):
        return text
    if text.startswith(_DANGEROUS) or text.lstrip().startswith(_DANGEROUS):
        text = "'" + text
    return clean(text)


def _cell(value):
    return "yes" if value is True else "no" if value is False else neutralise(value)


def _for_export(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if column.dtype.kind == "M":
            out[name] = column.dt.strftime("%Y-%m-%d").astype(object).where(column.notna(), None)
        elif column.dtype.kind == "b":
            out[name] = column.map({True: "yes", False: "no"})
        elif column.dtype == object or str(column.dtype) in ("string", "str"):
            # Built as object, not with Series.map: map would infer float64 for whole numbers mixed
            # with blanks (a KPI denominator of 12 exported as "12.0").
            out[name] = pd.Series([_cell(v) for v in column.to_numpy(dtype=object)], index=column.index,
                                  dtype=object)
    return out


def to_csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    _for_export(frame).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def to_json(frame: pd.DataFrame) -> str:
    import numpy as np

    records = _for_export(frame).replace({np.nan: None}).to_dict(orient="records")
    return json.dumps(records, indent=1, default=_json_default) + "\n"


def _json_default(value):
    import numpy as np

    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return str(value)


def to_xlsx(frame: pd.DataFrame, path, sheet: str = "results", percent_rows=None,
            percent_columns: tuple[str, ...] = ()) -> None:
    """A workbook with real date cells, a frozen header and sensible widths, written to ``path``
    through ``files.atomic_open``, or to an open binary handle.

    ``percent_rows`` (a boolean per row) and ``percent_columns``: those cells hold percentages
    written as 0-100 (a KPI ``value`` of 90.8); they are stored as fractions (0.908) and shown
    ``0.0%``, so Excel reads 90.8%, not the number 90.8.
    """
    import numpy as np
    import pandas as pd
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    worksheet = workbook.active
    worksheet.title = sheet[:31]
    worksheet.append(list(frame.columns))
    date_columns = [i for i, name in enumerate(frame.columns) if frame[name].dtype.kind == "M"]
    percent_at = [i for i, name in enumerate(frame.columns) if name in percent_columns]
    flags = [False] * len(frame) if percent_rows is None else [bool(f) for f in percent_rows]
    for number, record in enumerate(frame.itertuples(index=False)):
        row = []
        for i, value in enumerate(record):
            if i in percent_at and flags[number] and value is not None and not (
                    isinstance(value, float) and np.isnan(value)):
                row.append(float(value) / 100)
            elif i in date_columns:
                row.append(None if pd.isna(value) else value.date())
            elif value is None or (isinstance(value, float) and np.isnan(value)):
                row.append(None)
            elif isinstance(value, (bool, np.bool_)):
                row.append("yes" if value else "no")
            elif isinstance(value, np.integer):
                row.append(int(value))
            else:
                row.append(neutralise(value) if isinstance(value, str) else value)
        worksheet.append(row)
    for i in date_columns:
        for cell in worksheet[get_column_letter(i + 1)][1:]:
            cell.number_format = "dd/mm/yyyy"
    for i in percent_at:
        for flag, cell in zip(flags, worksheet[get_column_letter(i + 1)][1:]):
            if flag:
                cell.number_format = "0.0%"
    for i, name in enumerate(frame.columns, start=1):
        width = max([len(str(name))] + [len(str(v)) for v in frame[name].head(200).tolist()])
        worksheet.column_dimensions[get_column_letter(i)].width = min(max(width + 2, 10), 50)
    worksheet.freeze_panes = "A2"
    worksheet.auto_filter.ref = worksheet.dimensions
    if hasattr(path, "write"):  # an open binary handle (an e-mail attachment's buffer)
        workbook.save(path)
        return
    with atomic_open(path, "wb") as handle:
        workbook.save(handle)


# Values that must never break across lines in a table: identifiers, dates, counts.
_WHOLE_COLUMNS = {"case_id", "kind", "person_id", "caseworker", "team", "clock", "started", "due", "stopped",
                  "status", "days", "days_overdue", "exception", "statutory", "kpi", "period", "code"}


def terminal_width() -> int:
    """The width of the terminal stdout is printed on (rich's measure: the terminal's own, else the
    COLUMNS variable, else 80 when stdout is a file or a pipe)."""
    from rich.console import Console

    return Console().width


def render_table(frame: pd.DataFrame, title: str | None = None, width: int | None = None) -> str:
    """A table that fits ``width`` columns (default: the terminal's). Identifiers, dates and counts
    are kept whole (never split across lines); only text such as a clock's title wraps, at words."""
    import numpy as np
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, show_lines=False, pad_edge=False)
    shown = _for_export(frame)
    cells = [["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in record]
             for record in shown.itertuples(index=False)]
    smallest = 0
    for i, name in enumerate(shown.columns):
        whole = name in _WHOLE_COLUMNS or name.endswith("_id") or frame[name].dtype.kind in "Mbiuf"
        table.add_column(str(name), no_wrap=whole, overflow="ellipsis" if whole else "fold")
        texts = [str(name)] + [row[i] for row in cells]
        pieces = texts if whole else [word for text in texts for word in text.split()]
        smallest += max(map(len, pieces), default=0) + 3  # the cell, its padding and the gap to the next
    for row in cells:
        table.add_row(*row)
    # Never narrower than every identifier and date whole (and every word of the text columns): on a
    # terminal too narrow for even that, lines run on rather than cut an ID or a date in two.
    console = Console(file=io.StringIO(), width=max(width or terminal_width(), smallest), record=True)
    console.print(table)
    return console.export_text()


def emit(frame: pd.DataFrame, fmt: str, output: str | None, title: str | None = None, **xlsx) -> None:
    """Write a listing to ``output`` (or stdout) in ``fmt``; nothing but the results goes to stdout.
    ``xlsx`` options (percent_rows, percent_columns) go to :func:`to_xlsx`."""
    if fmt == "xlsx":
        if not output:
            raise ValueError("--format xlsx needs --output FILE.xlsx")
        to_xlsx(frame, Path(output), sheet=title or "results", **xlsx)
        return
    text = {"csv": to_csv, "json": to_json}.get(fmt, lambda f: render_table(f, title))(frame)
    if output:
        with atomic_open(output, "w", newline="") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
