"""Small SEN2 returns built by the tests (invented children): a person is a dict of items with its
requests, a request a dict with optional "assessment", "plan" and "active" dicts."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ehcp_tracker.sen2.read import Node
from ehcp_tracker.sen2.structure import CENSUS_DATES
from ehcp_tracker.sen2.write import header_node, return_xml

NAMES = {"Surname": "Zebedee", "Forename": "Quentin", "Sex": "M", "Ethnicity": "WBRI"}


def person(birth: str = "2014-05-01", upn: str | None = "B801200005001", requests=(), **items) -> Node:
    fields = {**NAMES, "PersonBirthDate": birth, **({"UPN": upn} if upn else {}), **items}
    return Node("Person", {k: v for k, v in fields.items() if v}, {"Requests": [request(**r) for r in requests]})


def request(assessment: dict | None = None, plan: dict | None = None, active: dict | None = None, **items) -> Node:
    children = {}
    if assessment is not None or plan is not None:
        a = Node("Assessment", dict(assessment or {}))
        if plan is not None:
            a.children["NamedPlan"] = [Node("NamedPlan", dict(plan))]
        children["Assessment"] = [a]
    if active is not None:
        children["ActivePlans"] = [Node("ActivePlans", dict(active))]
    return Node("Requests", dict(items), children)


def write_return(path: Path, persons: list[Node], year: int = 2026, la: str = "340") -> Path:
    header = header_node(year, CENSUS_DATES[year], la, dt.datetime(year, 1, 20, 9, 0, 0))
    path.write_text(return_xml(year, header, persons), encoding="utf-8")
    return path
