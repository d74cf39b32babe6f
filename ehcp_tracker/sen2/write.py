"""Writing an SEN2 return: modules as nested records, elements in the year's order (structure.py).

Why one writer: the export (export.py) and the demo's invented return write through it, so both
produce what the XSD of the year accepts, in DfE's element order.
"""

from __future__ import annotations

import datetime as dt
from xml.sax.saxutils import escape

from .read import Node
from .structure import MODULES


def header_node(year: int, reference: str, la: str, when: dt.datetime, software: str = "ehcp-tracker") -> Node:
    source = {"SourceLevel": "L", "LEA": la, "SoftwareCode": software, "Release": "1", "SerialNo": "001",
              "DateTime": when.strftime("%Y-%m-%dT%H:%M:%S"), "DMO": "Y", "DCO": "Y"}
    if year >= 2025:
        source["DSCO"] = "Y"
    return Node("Header", {}, {"CollectionDetails": [Node("CollectionDetails", {
        "Collection": "SEN2", "Year": str(year), "ReferenceDate": reference})], "Source": [Node("Source", source)]})


def return_xml(year: int, header: Node, persons: list[Node]) -> str:
    """The whole message as text (UTF-8). Items a record lacks are left out; items the year's
    structure does not know are never written."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<Message>"]
    _write(out, year, "Header", header, 1)
    out.append("  <Persons>")
    for person in persons:
        _write(out, year, "Person", person, 2)
    out.append("  </Persons>")
    out.append("</Message>")
    return "\n".join(out) + "\n"


def _write(out: list[str], year: int, module: str, node: Node, depth: int) -> None:
    pad = "  " * depth
    out.append(f"{pad}<{module}>")
    for item in MODULES[year][module]:
        if item.type in MODULES[year]:
            for child in node.all(item.name):
                _write(out, year, item.name, child, depth + 1)
        elif node.get(item.name):
            out.append(f"{pad}  <{item.name}>{escape(node.get(item.name))}</{item.name}>")
    out.append(f"{pad}</{module}>")
