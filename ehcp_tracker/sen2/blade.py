"""The COLLECT "Blade" CSV export of a return: one CSV per module, linked by table IDs, read into
the same modules as the XML (read.Return), so the import and the check treat both alike.

Files: ``Blade-Export_<DD-MM-YYYY>_{sen2,person,requests,assessment,namedplan,plandetail,activeplans,
placementdetail,senneed}.csv`` in one folder. Columns are the lower-cased element names plus each
module's ``<module>tableid`` and its parent's, ``NativeId``, ``sourceid`` and ``<module>orderseqcolumn``
(the order within the parent). Dates look like ``2022-Sep-28 00:00:00``; flags may be 1/0 or
true/false. Layout as a public Blade reader documents it (MastodonC witan.sen2, ``blade/csv.clj``);
``activeplans`` is taken to hang from ``requeststableid`` as the XML nests it (I).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from pathlib import Path

from .read import Header, Node, Return
from .safexml import MAX_BYTES, ReturnRefused
from .structure import MODULES, YEARS

BLADE_NAME = re.compile(r"^(Blade-Export_[^_]+)_([a-z0-9]+)\.csv$", re.IGNORECASE)
# file module -> (element, its table id column, the parent's table id column)
LAYOUT = {
    "person": ("Person", "persontableid", None),
    "requests": ("Requests", "requeststableid", "persontableid"),
    "assessment": ("Assessment", "assessmenttableid", "requeststableid"),
    "namedplan": ("NamedPlan", "namedplantableid", "assessmenttableid"),
    "plandetail": ("PlanDetail", "plandetailtableid", "namedplantableid"),
    "activeplans": ("ActivePlans", "activeplanstableid", "requeststableid"),
    "placementdetail": ("PlacementDetail", "placementdetailtableid", "activeplanstableid"),
    "senneed": ("SENneed", "senneedtableid", "activeplanstableid"),
}
FLAGS = {"true": "1", "false": "0", "yes": "1", "no": "0", "1": "1", "0": "0"}
_ELEMENTS = {item.name.lower(): (item.name, item.type) for modules in MODULES.values()
             for items in modules.values() for item in items}


def blade_group(path: Path | str) -> tuple[Path, str] | None:
    """(folder, export prefix) of a Blade module file, None for any other file."""
    path = Path(path)
    match = BLADE_NAME.match(path.name)
    if not match or match.group(2).lower() not in (*LAYOUT, "sen2"):
        return None
    return path.parent, match.group(1)


def _rows(path: Path) -> list[dict[str, str]]:
    if path.stat().st_size > MAX_BYTES:
        raise ReturnRefused(f"{path.name}: larger than any SEN2 return; nothing stored")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return []
    return [dict(zip(header, (c.strip() for c in row))) for row in reader if any(c.strip() for c in row)]


def _value(kind: str, text: str) -> str:
    if not text:
        return ""
    if kind == "date":
        head = text.split(" ")[0]
        for form in ("%Y-%b-%d", "%Y-%m-%d", "%d/%m/%Y"):
            try:
                return dt.datetime.strptime(head, form).date().isoformat()
            except ValueError:
                continue
        return text  # left for the check to name
    if kind == "flag":
        return FLAGS.get(text.lower(), text)
    return text


def _node(element: str, row: dict[str, str]) -> Node:
    node = Node(element)
    for column, text in row.items():
        known = _ELEMENTS.get(column)
        if known and known[1] not in MODULES[YEARS[-1]]:
            node.fields[known[0]] = _value(known[1], text)
    return node


def read_blade(path: Path | str) -> Return:
    """The whole export, found from any one of its files."""
    group = blade_group(path)
    if group is None:
        raise ReturnRefused(f"{Path(path).name}: not a Blade export file (Blade-Export_<date>_<module>.csv)")
    folder, prefix = group
    files = {p.name.lower(): p for p in folder.iterdir() if p.name.lower().startswith(prefix.lower() + "_")}
    name = f"{prefix}_person.csv"
    if f"{prefix.lower()}_sen2.csv" not in files or name.lower() not in files:
        raise ReturnRefused(f"{name}: a Blade export needs at least its _sen2.csv and _person.csv files "
                            f"together in {folder}; nothing stored")
    meta = (_rows(files[f"{prefix.lower()}_sen2.csv"]) or [{}])[0]
    if meta.get("collection", "SEN2").upper() != "SEN2":
        raise ReturnRefused(f"{prefix}_sen2.csv: collection is not SEN2; nothing stored")
    year_text = meta.get("year", "")
    if not (year_text.isdigit() and int(year_text) in YEARS):
        raise ReturnRefused(f"{prefix}_sen2.csv: collection year {year_text[:10]!r} is not one this tool knows "
                            f"({', '.join(map(str, YEARS))}); nothing stored")
    reference = _value("date", meta.get("referencedate", ""))
    header = Header("SEN2", int(year_text), dt.date.fromisoformat(reference) if re.fullmatch(r"\d{4}-\d\d-\d\d", reference)
                    else None, meta.get("lea", ""))
    by_id: dict[str, dict[str, Node]] = {}
    persons: list[Node] = []
    for module, (element, own, parent) in LAYOUT.items():  # parents before children
        path_of = files.get(f"{prefix.lower()}_{module}.csv")
        rows = _rows(path_of) if path_of else []
        order = f"{module}orderseqcolumn"
        rows.sort(key=lambda r: int(r[order]) if r.get(order, "").isdigit() else 0)
        nodes = by_id.setdefault(element, {})
        for row in rows:
            node = _node(element, row)
            nodes[row.get(own, "")] = node
            if parent is None:
                persons.append(node)
                continue
            parent_element = next(e for e, o, _ in LAYOUT.values() if o == parent)
            owner = by_id.get(parent_element, {}).get(row.get(parent, ""))
            if owner is None:
                raise ReturnRefused(f"{prefix}_{module}.csv: a row whose {parent} is in no {parent_element} row; "
                                    "nothing stored")
            owner.children.setdefault(element, []).append(node)
    return Return(f"{prefix}_person.csv", header, persons)
