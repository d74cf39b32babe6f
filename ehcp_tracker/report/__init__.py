"""The board pack (``ehcp report``): gathered once (``report.data``) and rendered as HTML (``report.html``) or XLSX (``report.xlsx``).

May import the shared vocabulary, ``listings``, ``measures``, ``clocks`` and ``store``; never ``ingest`` or ``cli``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy.engine import Engine

from ..clocks.rules import RuleBook
from ..files import atomic_write
from .data import PackData, PackOptions, gather


def write(pack: PackData, path: Path, fmt: str) -> Path:
    if fmt == "html":
        from .html import render

        atomic_write(path, render(pack))
    else:
        from .xlsx import save

        save(pack, path)
    return path


def write_pack(engine: Engine, book: RuleBook, month: str, as_of: dt.date, path: Path, fmt: str,
               options: PackOptions = PackOptions()) -> Path:
    return write(gather(engine, book, month, as_of, options=options), path, fmt)
