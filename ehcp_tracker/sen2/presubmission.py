"""The pre-submission workbook of a return: one sheet per module, read into the same modules as the
XML (read.Return), so the import and the check treat it as they treat the XML and the Blade export.

Layout (domain notes section 4; a public reader, MastodonC witan.sen2 ``blade/pre_submission.clj``):
sheets ``Person``, ``Requests``, ``Assessments``, ``Named Plan``, ``Plan Detail``, ``Active Plan``,
``Placement Detail``, ``SEN Need``; row 1 holds the lower-cased element names. ``Person`` rows carry
``persontableid``; every other sheet links by ``requeststableid`` (Requests carries both), not by its
own module's ID: the named plan, the plan details, the active plan and its placements and needs all
hang from their request. Requests spells RequestSource ``rquestsource``. The workbook has no header
(no collection year, LA or census date), so the caller supplies them: the year for the check, the LA
for the keys of children with neither UPN nor ULN (keys.py hashes the LA with the names).

Why openpyxl through ``workbook.open_workbook``: the file is one a council's staff (or anyone who can
drop a file in the import folder) made, so it gets the bounds every workbook gets, and each refusal
is one line naming the file, sheet and row, never a cell's value.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path

from ..errors import EhcpError
from ..workbook import open_workbook, sheet_rows
from .blade import FLAGS
from .read import Header, Node, Return
from .safexml import ReturnRefused
from .structure import MODULES, YEARS

# sheet -> (element, the column naming the row's owner, the owner's element); parents before children
SHEETS = {
    "Person": ("Person", None, None),
    "Requests": ("Requests", "persontableid", "Person"),
    "Assessments": ("Assessment", "requeststableid", "Requests"),
    "Named Plan": ("NamedPlan", "requeststableid", "Assessment"),
    "Plan Detail": ("PlanDetail", "requeststableid", "NamedPlan"),
    "Active Plan": ("ActivePlans", "requeststableid", "Requests"),
    "Placement Detail": ("PlacementDetail", "requeststableid", "ActivePlans"),
    "SEN Need": ("SENneed", "requeststableid", "ActivePlans"),
}
OWN_ID = {"Person": "persontableid", "Requests": "requeststableid"}
ONE_PER_REQUEST = {"Assessment", "NamedPlan", "ActivePlans"}  # the XML holds at most one of each
HEADER_ALIASES = {"rquestsource": "requestsource"}  # the workbook's own spelling
REQUIRED_SHEETS = ("Person", "Requests")
_ELEMENTS = {item.name.lower(): (item.name, item.type) for modules in MODULES.values()
             for items in modules.values() for item in items}
_SHEET_NAME = re.compile(rb'<(?:\w+:)?sheet\b[^>]*\bname="([^"]{1,64})"')
WORKBOOK_XML_MAX = 1 << 20


def sheet_names(path: Path | str) -> list[str]:
    """The sheet names a .xlsx declares (its ``xl/workbook.xml``), without opening it with openpyxl;
    [] for anything that is not a readable workbook (the extract reader then says what it is)."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        return []
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("xl/workbook.xml")
            if info.file_size > WORKBOOK_XML_MAX:
                return []
            text = archive.read(info)
    except Exception:  # noqa: BLE001 - any damage: not recognised here; the extract reader says why, one line
        return []
    return [m.decode("utf-8", "replace") for m in _SHEET_NAME.findall(text)]


def is_presubmission(path: Path | str) -> bool:
    """A workbook with the pre-submission sheets Person and Requests (names matched in any case)."""
    names = {n.strip().lower() for n in sheet_names(path)}
    return all(s.lower() in names for s in REQUIRED_SHEETS)


def _text(kind: str, value) -> str:
    """A cell as the XML would hold it: dates ISO, IDs and codes without Excel's '.0', flags 1/0."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if kind == "date" and text:
        head = text.split(" ")[0].split("T")[0]
        for form in ("%Y-%m-%d", "%d/%m/%Y", "%Y-%b-%d"):
            try:
                return dt.datetime.strptime(head, form).date().isoformat()
            except ValueError:
                continue
        return text  # left for the check to name (never echoed)
    if kind == "flag":
        return FLAGS.get(text.lower(), text)
    return text


def _key(value) -> str:
    return _text("text", value)


def read_presubmission(path: Path | str, year: int | None = None, la: str = "") -> Return:
    """The whole workbook as a return; ``year`` and ``la`` stand in for the header it lacks (the
    census date is the year's). Every refusal is one line naming the file, sheet and row."""
    from .structure import CENSUS_DATES

    path = Path(path)
    file = path.name
    if year is not None and year not in YEARS:
        raise ReturnRefused(f"{file}: collection year {year} is not one this tool knows "
                            f"({', '.join(map(str, YEARS))}); nothing stored")
    reference = dt.date.fromisoformat(CENSUS_DATES[year]) if year else None
    header = Header("SEN2", year or 0, reference, la.strip())
    persons: list[Node] = []
    by_id: dict[str, dict[str, Node]] = {"Person": {}, "Requests": {}}
    with open_workbook(path, file, "an SEN2 pre-submission workbook is an .xlsx with sheets Person, Requests, ...") \
            as workbook:
        present = {name.strip().lower(): name for name in workbook.sheetnames}
        for sheet_name in REQUIRED_SHEETS:
            if sheet_name.lower() not in present:
                raise ReturnRefused(f"{file}: no sheet {sheet_name!r}: not an SEN2 pre-submission workbook; "
                                    "nothing stored")
        for sheet_name, (element, owner_column, owner_element) in SHEETS.items():
            if sheet_name.lower() not in present:
                continue
            where = f"{file}, sheet {sheet_name!r}"
            rows = sheet_rows(workbook[present[sheet_name.lower()]], where)
            first = next(rows, None)
            if first is None:
                continue
            columns = [HEADER_ALIASES.get(c, c) for c in
                       (str(v).strip().lower() if v is not None else "" for v in first[1])]
            if owner_column and owner_column not in columns:
                raise ReturnRefused(f"{where}, row 1: no column {owner_column}: the sheet cannot be linked to its "
                                    "request; nothing stored")
            own = OWN_ID.get(element)
            if own and own not in columns:
                raise ReturnRefused(f"{where}, row 1: no column {own}; nothing stored")
            for number, values in rows:
                cells = dict(zip(columns, values))
                if all(v is None or str(v).strip() == "" for v in values):
                    continue
                node = Node(element)
                for column, value in cells.items():
                    known = _ELEMENTS.get(column)
                    if known and known[1] not in MODULES[YEARS[-1]]:
                        node.fields[known[0]] = _text(known[1], value)
                if own:
                    ident = _key(cells.get(own))
                    if not ident or ident in by_id[element]:
                        raise ReturnRefused(f"{where}, row {number}, column {own}: "
                                            f"{'blank' if not ident else 'the same ID as an earlier row'}; "
                                            "nothing stored")
                    by_id[element][ident] = node
                if owner_column is None:
                    persons.append(node)
                    continue
                owner = _owner(by_id, owner_element, _key(cells.get(owner_column)))
                if owner is None:
                    raise ReturnRefused(f"{where}, row {number}, column {owner_column}: no {_sheet_of(owner_element)} "
                                        f"row for it; nothing stored")
                if element in ONE_PER_REQUEST and owner.children.get(element):
                    raise ReturnRefused(f"{where}, row {number}: a second {sheet_name} row for one request "
                                        "(the return holds at most one); nothing stored")
                owner.children.setdefault(element, []).append(node)
    if not persons:
        raise ReturnRefused(f"{file}: the Person sheet holds no rows; nothing stored")
    return Return(file, header, persons)


def _owner(by_id: dict[str, dict[str, Node]], element: str, request_id: str) -> Node | None:
    """The node a row hangs from: a person, a request, or the request's (only) module of that name."""
    if element in by_id:
        return by_id[element].get(request_id)
    path = {"Assessment": ("Assessment",), "NamedPlan": ("Assessment", "NamedPlan"),
            "ActivePlans": ("ActivePlans",)}[element]
    node = by_id["Requests"].get(request_id)
    for tag in path:
        node = node.first(tag) if node is not None else None
    return node


def _sheet_of(element: str) -> str:
    return next(sheet for sheet, (e, _, _) in SHEETS.items() if e == element)


def needs_la(ret: Return) -> int:
    """How many persons the keys would hash with the LA (no UPN, no ULN): none needs --la."""
    return sum(1 for p in ret.persons if not (p.get("UPN") or p.get("UniqueLearnerNumber")))


def require_la(ret: Return) -> None:
    if not ret.header.la and needs_la(ret):
        raise EhcpError(f"{ret.file}: a pre-submission workbook has no header, and {needs_la(ret)} person(s) with "
                        "neither UPN nor ULN are keyed with the council's LA code: give --la CODE (the return's "
                        "LEA, e.g. 340) so that their keys match the XML's; nothing stored")
