"""``ehcp report``: the monthly board pack, gathered once (``report_data``) and rendered as HTML
(``report_html``) or XLSX (``report_xlsx``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.engine import Engine

from .report_data import PackData, gather
from .rules import RuleBook


def write(pack: PackData, path: Path, fmt: str) -> Path:
    if fmt == "html":
        from .report_html import render

        path.write_text(render(pack), encoding="utf-8")
    else:
        from .report_xlsx import save

        save(pack, path)
    return path


def write_pack(engine: Engine, book: RuleBook, month: str, as_of: dt.date, path: Path, fmt: str) -> Path:
    return write(gather(engine, book, month, as_of), path, fmt)
