"""An SEN2 return as the importer's raw extracts: one per kind, from one reading of the file.

Why through the importer: ``ehcp import return.xml`` stores the return's rows with the same
validation, guards, change log and transaction as any nightly extract (ingest/importer.py calls
``raw_extract`` from its one hook). A row's "row number" in messages is the Person's position in
the file (1 = the first Person), never a name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ..ingest.extract import RawExtract
from .mapping import ASSESSMENT_MAP, REVIEW_MAP, Mapped, map_return
from .blade import blade_group, read_blade
from .presubmission import is_presubmission, read_presubmission, require_la
from .read import Return, read_return

KINDS_IN_A_RETURN = ("assessments", "reviews")


def is_return(path: Path | str) -> bool:
    """An SEN2 return: the XML, one file of a Blade CSV export, or a pre-submission workbook."""
    return Path(path).suffix.lower() == ".xml" or blade_group(path) is not None or is_presubmission(path)


def one_per_return(paths: list[Path]) -> list[Path]:
    """The files as given, each Blade export once (its module files are read together)."""
    seen, out = set(), []
    for path in paths:
        group = blade_group(path)
        if group is None or group not in seen:
            out.append(path)
        if group is not None:
            seen.add(group)
    return out


def read_any(path: Path | str, year: int | None = None, la: str | None = None) -> Return:
    """The return in any of its three forms. ``year`` and ``la`` stand in for the header a
    pre-submission workbook lacks (the XML and the Blade export carry their own)."""
    if blade_group(path):
        return read_blade(path)
    if is_presubmission(path):
        return read_presubmission(path, year, la or "")
    return read_return(path)


def mapped_return(path: Path | str, secret: Callable[[], bytes], la: str | None = None) -> tuple[str, Mapped]:
    ret = read_any(path, la=la)
    if is_presubmission(path):
        require_la(ret)
    return ret.file, map_return(ret, secret)


def raw_extract(file: str, mapped: Mapped, kind: str) -> RawExtract:
    cells = mapped.assessments if kind == "assessments" else mapped.reviews
    items = ASSESSMENT_MAP if kind == "assessments" else REVIEW_MAP
    numbers = pd.Series(mapped.positions[kind], dtype="int64")
    notes = [*mapped.notes, f"{file}: an SEN2 return: {len(cells)} {kind} rows; 'row N' below is the "
                            "Nth Person in the file"]
    return RawExtract(file, cells.reset_index(drop=True), numbers, kind, list(mapped.warnings), "utf-8",
                      sources={name: item for name, (item, _) in items.items() if "/" in item and " " not in item},
                      notes=notes)
