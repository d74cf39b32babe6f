"""The SEN2 return's structure, per collection year: modules, elements in order, cardinality, types.

Why one table: the XSDs in ``xsd/`` are written from it (``python -m ehcp_tracker.sen2.structure``;
``tests/test_sen2.py`` fails when they are out of date), and the export writes elements in the same
order, so the file the tool writes and the schema it checks against cannot drift apart.

Sources (see docs/sen2.md): DfE's SEN2 guide and technical specification are not reachable from
here; the element names, order and codes are those of the public schemas a London data pipeline
wrote from the DfE guide (their comments quote it) and of the 2025 sample return, as summarised in
the project's domain notes (summarised in docs/sen2.md). Where those notes mark a fact as
inferred, so does the comment beside it here. The 2027 collection's structure is not published: a
Year outside ``YEARS`` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

YEARS = (2024, 2025, 2026)
# Census (reference) dates: the third Thursday of January (DfE; domain notes section 2).
CENSUS_DATES = {2024: "2024-01-18", 2025: "2025-01-16", 2026: "2026-01-15", 2027: "2027-01-21"}

UPN_PATTERN = r"[A-Za-z]\d{12}|[A-Za-z]\d{11}[A-Za-z]"
# Simple types: name -> ("pattern", regex) | ("codes", values) | ("base", xs type)
TYPES: dict[str, tuple[str, object]] = {
    "date": ("base", "xs:date"),
    "datetime": ("base", "xs:dateTime"),
    "year": ("base", "xs:gYear"),
    "text": ("base", "xs:string"),
    "flag": ("codes", ("0", "1")),
    "collection": ("codes", ("SEN2",)),
    "sourcelevel": ("codes", ("L",)),
    "la": ("pattern", r"\d{3}"),
    "serial": ("pattern", r"\d{3}"),
    "yesnorecruit": ("codes", ("Y", "N", "R")),
    "sex": ("codes", ("M", "F")),
    "ethnicity": ("pattern", r"[A-Z]{4}"),  # the 108 DfE codes (WBRI ...): the list itself is not held here (I)
    "upn": ("pattern", UPN_PATTERN),
    "uln": ("pattern", r"\d{10}"),
    "upnunknown": ("codes", ("UN1", "UN2", "UN3", "UN5", "UN8", "UN9", "UN10")),
    "requestsource": ("codes", ("1", "2", "3", "4", "5")),
    "requestoutcome": ("codes", ("Y", "N", "A", "W", "H")),
    "assessmentoutcome": ("codes", ("Y", "N", "A", "W", "H")),
    "reviewoutcome": ("codes", ("M", "A", "C")),
    "ceasereason": ("codes", tuple(str(i) for i in range(1, 10))),
    "urn": ("pattern", r"\d{1,6}"),
    "ukprn": ("pattern", r"\d{8}"),
    "sensetting": ("codes", ("OLA", "OPA", "EHE", "EYP", "OTH", "NEET", "NIEC", "NIEO")),
    "rank": ("codes", ("1", "2")),
    "res": ("codes", ("A", "B")),
    "wbp": ("codes", ("A", "T", "S")),
    "sentype": ("codes", ("SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "DS", "OTH")),
    "short": ("pattern", r"[A-Za-z0-9]{1,4}"),  # PB, OA, DP: their code lists are not held here (I)
}


@dataclass(frozen=True)
class Item:
    name: str
    type: str  # a TYPES key, or a module (complex type) name
    min: int = 0
    max: int | None = 1  # None: unbounded
    number: str = ""  # the guide's item number (2026)


def _modules(year: int) -> dict[str, list[Item]]:
    new25 = year >= 2025  # DSCO, RequestSource, ReviewDraft and the phase-transfer dates (voluntary in 2025)
    active = [Item("TransferLA", "la", number="5.1"), Item("PlacementDetail", "PlacementDetail", 0, None, "5.7"),
              Item("SENneed", "SENneed", 0, 2, "5.8"), Item("ReviewMeeting", "date", number="5.4a")]
    if year < 2026:  # 2026: LastReview moves to the end of ActivePlans
        active.append(Item("LastReview", "date", number="5.4b"))
    active.append(Item("ReviewOutcome", "reviewoutcome", number="5.4c"))
    if new25:
        active += [Item("ReviewDraft", "date", number="5.4d"), Item("PhaseTransferDueDate", "date", number="5.6a"),
                   Item("PhaseTransferFinalDate", "date", number="5.6b")]
    if year >= 2026:
        active.append(Item("LastReview", "date", number="5.4b"))
    return {
        "Message": [Item("Header", "Header"), Item("Persons", "Persons")],
        "Header": [Item("CollectionDetails", "CollectionDetails", 1), Item("Source", "Source", 1)],
        "CollectionDetails": [Item("Collection", "collection", 1), Item("Year", "year", 1),
                              Item("ReferenceDate", "date", 1)],
        "Source": [Item("SourceLevel", "sourcelevel", 1), Item("LEA", "la", 1), Item("SoftwareCode", "text"),
                   Item("Release", "text"), Item("SerialNo", "serial"), Item("DateTime", "datetime"),
                   Item("DMO", "yesnorecruit", 1), Item("DCO", "yesnorecruit", 1),
                   *([Item("DSCO", "yesnorecruit")] if new25 else [])],
        "Persons": [Item("Person", "Person", 1, None)],
        "Person": [Item("Surname", "text", 1, number="1.1"), Item("Forename", "text", 1, number="1.2"),
                   Item("PersonBirthDate", "date", 1, number="1.3"), Item("Sex", "sex", 1, number="1.4"),
                   Item("Ethnicity", "ethnicity", 1, number="1.5"), Item("PostCode", "text", number="1.6"),
                   Item("UPN", "upn", number="1.7a"), Item("UniqueLearnerNumber", "uln", number="1.7b"),
                   Item("UPNunknown", "upnunknown", number="1.7c"), Item("Requests", "Requests", 0, None)],
        "Requests": [Item("ReceivedDate", "date", number="2.1"),
                     *([Item("RequestSource", "requestsource", number="2.2")] if new25 else []),
                     Item("RYA", "flag", number="2.3"), Item("RequestOutcomeDate", "date", number="2.4"),
                     Item("RequestOutcome", "requestoutcome", number="2.5"),
                     Item("RequestMediation", "flag", number="2.6"), Item("RequestTribunal", "flag", number="2.7"),
                     Item("Exported", "la", number="2.8"), Item("Assessment", "Assessment"),
                     Item("ActivePlans", "ActivePlans")],
        "Assessment": [Item("AssessmentOutcome", "assessmentoutcome", number="3.1"),
                       Item("AssessmentOutcomeDate", "date", number="3.2"),
                       Item("AssessmentMediation", "flag", number="3.3"), Item("AssessmentTribunal", "flag", number="3.4"),
                       Item("OtherMediation", "flag", number="3.5"), Item("OtherTribunal", "flag", number="3.6"),
                       Item("Week20", "flag", number="3.7"), Item("NamedPlan", "NamedPlan")],
        "NamedPlan": [Item("StartDate", "date", number="4.1"), Item("PlanDetail", "PlanDetail", 0, 2, "4.7"),
                      Item("PlanRes", "res", number="4.2"), Item("PlanWBP", "wbp", number="4.3"),
                      Item("PB", "short", number="4.4a"), Item("OA", "short", number="4.4b"),
                      Item("DP", "short", number="4.4c"), Item("CeaseDate", "date", number="4.5"),
                      Item("CeaseReason", "ceasereason", number="4.6")],
        "PlanDetail": [Item("URN", "urn"), Item("UKPRN", "ukprn"), Item("SENSetting", "sensetting"),
                       Item("SENSettingOther", "text"), Item("PlacementRank", "rank"),
                       Item("SENunitIndicator", "flag"), Item("ResourcedProvisionIndicator", "flag")],
        "ActivePlans": active,
        "PlacementDetail": [Item("URN", "urn"), Item("UKPRN", "ukprn"), Item("SENSetting", "sensetting"),
                            Item("SENSettingOther", "text"), Item("PlacementRank", "rank"),
                            Item("EntryDate", "date"), Item("LeavingDate", "date"),
                            Item("SENunitIndicator", "flag"), Item("ResourcedProvisionIndicator", "flag"),
                            Item("Res", "res"), Item("WBP", "wbp")],
        "SENneed": [Item("SENtype", "sentype"), Item("SENtypeRank", "rank")],
    }


MODULES = {year: _modules(year) for year in YEARS}


def order(year: int, module: str) -> list[str]:
    """The element names of ``module`` in the year's order (what the export writes)."""
    return [item.name for item in MODULES[year][module]]


def xsd(year: int) -> str:
    """The XML Schema of the year's return, from ``MODULES`` and ``TYPES``."""
    modules = MODULES[year]
    used = {item.type for items in modules.values() for item in items if item.type in TYPES}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>',
             f"<!-- SEN2 return, collection year {year}: written by ehcp-tracker from ehcp_tracker/sen2/structure.py",
             "     (python -m ehcp_tracker.sen2.structure). Structure only: the cross-field rules are sen2/check.py. -->",
             '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" elementFormDefault="unqualified">',
             '  <xs:element name="Message" type="Message"/>']
    for name, items in modules.items():
        lines.append(f'  <xs:complexType name="{name}">')
        lines.append("    <xs:sequence>")
        for item in items:
            kind = item.type if item.type in modules else f"t_{item.type}"
            if TYPES.get(item.type, ("", ""))[0] == "base":
                kind = TYPES[item.type][1]
            high = "unbounded" if item.max is None else str(item.max)
            note = f"  <!-- item {item.number} -->" if item.number else ""
            lines.append(f'      <xs:element name="{item.name}" type="{kind}" minOccurs="{item.min}" '
                         f'maxOccurs="{high}"/>{note}')
        lines.append("    </xs:sequence>")
        lines.append("  </xs:complexType>")
    for name in sorted(used):
        how, value = TYPES[name]
        if how == "base":
            continue
        lines.append(f'  <xs:simpleType name="t_{name}">')
        lines.append('    <xs:restriction base="xs:string">')
        if how == "pattern":
            lines.append(f'      <xs:pattern value="{value}"/>')
        else:
            lines += [f'      <xs:enumeration value="{v}"/>' for v in value]
        lines.append("    </xs:restriction>")
        lines.append("  </xs:simpleType>")
    lines.append("</xs:schema>")
    return "\n".join(lines) + "\n"


def xsd_path(year: int):
    from pathlib import Path

    return Path(__file__).resolve().parent / "xsd" / f"sen2_{year}.xsd"


if __name__ == "__main__":  # python -m ehcp_tracker.sen2.structure: write the XSDs again
    for y in YEARS:
        xsd_path(y).write_text(xsd(y), encoding="utf-8")
        print(f"wrote {xsd_path(y)}")
