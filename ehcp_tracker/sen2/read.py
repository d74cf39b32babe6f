"""An SEN2 return read into its modules: the header, then each Person as nested records.

Why streamed: a return holds every child with a plan in the council; one Person at a time is read,
turned into a record and cleared, so memory follows the largest child, not the file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from .safexml import ReturnRefused, elements
from .structure import MODULES, YEARS

MODULE_TAGS = {name for modules in MODULES.values() for name in modules}  # an empty <ActivePlans/> is a module


@dataclass
class Node:
    """One module of one person: its simple items as text, its sub-modules by name."""

    tag: str
    fields: dict[str, str] = field(default_factory=dict)
    children: dict[str, list[Node]] = field(default_factory=dict)

    def first(self, tag: str) -> Node | None:
        found = self.children.get(tag)
        return found[0] if found else None

    def all(self, tag: str) -> list[Node]:
        return self.children.get(tag, [])

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


@dataclass
class Header:
    collection: str
    year: int
    reference_date: dt.date | None
    la: str


@dataclass
class Return:
    file: str
    header: Header
    persons: list[Node]


def _node(element) -> Node:
    node = Node(element.tag)
    for child in element:
        if len(child) or child.tag in MODULE_TAGS:
            node.children.setdefault(child.tag, []).append(_node(child))
        else:
            node.fields.setdefault(child.tag, (child.text or "").strip())
    return node


def _header(file: str, node: Node | None, year_given: int | None = None) -> Header:
    details = node.first("CollectionDetails") if node else None
    if details is None:
        raise ReturnRefused(f"{file}: no Header/CollectionDetails: not an SEN2 return; nothing stored")
    collection = details.get("Collection")
    if collection != "SEN2":
        raise ReturnRefused(f"{file}: Header/CollectionDetails/Collection is {collection[:20]!r}, not 'SEN2': "
                            "not an SEN2 return; nothing stored")
    text = details.get("Year")
    if not (text.isdigit() and int(text) in YEARS):
        raise ReturnRefused(f"{file}: collection year {text[:10]!r} is not one this tool knows "
                            f"({', '.join(map(str, YEARS))}); nothing stored")
    try:
        reference = dt.date.fromisoformat(details.get("ReferenceDate")) if details.get("ReferenceDate") else None
    except ValueError:
        reference = None
    source = node.first("Source")
    return Header(collection, int(text), reference, source.get("LEA") if source else "")


def read_return(path: Path | str) -> Return:
    """The whole return, every refusal one line (safexml): root Message, Collection SEN2, a known Year."""
    path = Path(path)
    file = path.name
    header: Header | None = None
    persons: list[Node] = []
    root_seen = False
    for event, element, depth in elements(path):
        if event == "start":
            if depth == 1:
                if element.tag != "Message":
                    raise ReturnRefused(f"{file}: the root element is {element.tag[:40]!r}, not Message: "
                                        "not an SEN2 return; nothing stored")
                root_seen = True
            elif depth == 2 and element.tag == "Persons" and header is None:
                raise ReturnRefused(f"{file}: Persons before the Header: not an SEN2 return; nothing stored")
            continue
        if depth == 2 and element.tag == "Header":
            header = _header(file, _node(element))
            element.clear()
        elif depth == 3 and element.tag == "Person":
            persons.append(_node(element))
            element.clear()
    if not root_seen or header is None:
        raise ReturnRefused(f"{file}: no Header: not an SEN2 return; nothing stored")
    return Return(file, header, persons)


def looks_like_return(path: Path | str) -> bool:
    """An .xml file is taken as an SEN2 return (read_return then says if it is not one)."""
    return Path(path).suffix.lower() == ".xml"
