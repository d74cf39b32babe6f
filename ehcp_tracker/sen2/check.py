"""``ehcp sen2 check``: a return against the XSD of its collection year and the cross-field rules.

Each finding is one line: its label ("DfE structure": the year's schema and the conditions DfE's
guide states; "ehcp-tracker rule": checks this tool adds, which DfE does not publish as such), the
module, the person's position in the file (never a name), the item and the reason. Values are never
echoed: a bad UPN is "not a UPN", not the UPN.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

from .read import Node, Return
from .safexml import ReturnRefused
from .structure import MODULES, TYPES, xsd_path

DFE = "DfE structure"
OURS = "ehcp-tracker rule"

# The UPN check letter (UK Government Data Standards Catalogue, "Unique Pupil Number" v2.0,
# validations 1-6): characters 2-13 weighted by their position (2..13), a temporary UPN's final
# letter counted as its index in this alphabet, the sum modulo 23 indexes the alphabet (no I, O, S).
UPN_LETTERS = "ABCDEFGHJKLMNPQRTUVWXYZ"


@dataclass(frozen=True)
class Finding:
    label: str
    module: str
    person: int | None  # the Person's position in the file, 1 = the first
    item: str
    reason: str
    severity: str = "error"  # error | warning

    def __str__(self) -> str:
        where = f"person {self.person}" if self.person else "header"
        return f"{self.severity}: {self.label}: {self.module}, {where}, {self.item}: {self.reason}"


def upn_check_letter(upn: str) -> str | None:
    """The check letter a UPN's other twelve characters call for; None if they are not a UPN's."""
    body = upn[1:].upper()
    if not re.fullmatch(r"\d{12}|\d{11}[A-HJ-NP-RT-Z]", body):
        return None
    values = [int(c) if c.isdigit() else UPN_LETTERS.index(c) for c in body]
    return UPN_LETTERS[sum(weight * v for weight, v in zip(range(2, 14), values)) % 23]


def check_return(path: Path | str, year: int | None = None) -> tuple[Return, list[Finding]]:
    """Every finding of the file; refusals (malformed, hostile, not SEN2, unknown year) raise, one line.

    The XML is checked as it stands. A Blade export or a pre-submission workbook (``year``: the
    collection year its missing header would give) is checked on its modules as read: they are
    written in the year's element order (write.py) and that text is checked against the same XSD, so
    codes, formats and cardinality are judged alike and every finding is labelled and placed as for
    the XML (the Nth Person of the export or of the Person sheet). Element order is then the writer's,
    never the file's: only the XML can be out of order.
    """
    from .importing import read_any
    from .presubmission import is_presubmission

    if is_presubmission(path) and year is None:
        raise ReturnRefused(f"{Path(path).name}: a pre-submission workbook has no header: give --year YYYY "
                            "(the collection year, e.g. 2026 for the January 2026 census); nothing checked")
    ret = read_any(path, year=year)
    if Path(path).suffix.lower() == ".xml":
        findings = structure_findings(Path(path), ret.header.year)
    else:
        findings = structure_findings(_as_xml(ret), ret.header.year)
        if is_presubmission(path):  # its header is ours (the year given, no LA): nothing to check there
            findings = [f for f in findings if f.person is not None]
    findings += rule_findings(ret)
    return ret, findings


def _as_xml(ret: Return) -> str:
    """The modules of a Blade export or workbook as the year's XML (header from what the file gives)."""
    import datetime as _dt

    from .write import header_node, return_xml

    reference = ret.header.reference_date.isoformat() if ret.header.reference_date else ""
    header = header_node(ret.header.year, reference, ret.header.la, _dt.datetime(ret.header.year, 1, 1))
    return return_xml(ret.header.year, header, ret.persons)


_XPATH = re.compile(r"/Message(?:/Persons/Person\[(\d+)\])?(.*)")


def structure_findings(source: Path | str, year: int) -> list[Finding]:
    """The schema's errors, each placed by its path and described from structure.py (no value shown).
    ``source``: the file, or (a Blade export's or workbook's modules) the XML text ``_as_xml`` wrote."""
    import xmlschema

    schema = xmlschema.XMLSchema(str(xsd_path(year)))
    resource = xmlschema.XMLResource(str(source), defuse="always")
    out = []
    for error in schema.iter_errors(resource):
        text = error.path or ""
        match = _XPATH.match(text)
        person = int(match.group(1)) if match and match.group(1) else (1 if "/Person" in text else None)
        parts = [re.sub(r"\[\d+\]", "", p) for p in (match.group(2) if match else text).split("/") if p]
        item = parts[-1] if parts else ("Person" if person else "Message")
        module = parts[-2] if len(parts) > 1 else ("Person" if person else "Message")
        element = getattr(error, "elem", None)
        if element is not None and (len(element) or item in MODULES[year]):  # a module's content: name the child
            module = item
            reason = str(getattr(error, "reason", ""))
            named = re.search(r"Tag '?([A-Za-z0-9]+)'? expected", reason) or re.search(r"tag '?([A-Za-z0-9]+)'?", reason)
            item = named.group(1) if named else "(content)"
        out.append(Finding(DFE, module, person, item, _describe(year, module, item, error)))
    return out


def _describe(year: int, module: str, item: str, error) -> str:
    """A reason that names the rule, not the value (messages never carry a child's data)."""
    spec = next((i for i in MODULES[year].get(module, []) if i.name == item), None)
    if spec is not None and spec.type in TYPES and getattr(error, "elem", None) is not None and not len(error.elem):
        how, value = TYPES[spec.type]
        if how == "codes":
            return f"not one of the codes {', '.join(value)}"
        if how == "pattern":
            return f"not in the format {value}"
        return f"not a valid {value.removeprefix('xs:')}"
    reason = str(getattr(error, "reason", "") or "does not match the year's structure")
    reason = re.sub(r"'[^']*'(?=\s*$)|value '[^']*'", "a value", reason)  # never a value
    return reason.replace("\n", " ")[:200]


def _date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        return None


def rule_findings(ret: Return) -> list[Finding]:
    """The cross-field rules, each labelled (module docstring)."""
    out: list[Finding] = []
    year = ret.header.year
    reference = ret.header.reference_date
    period = (dt.date(year - 1, 1, 1), dt.date(year - 1, 12, 31))
    for position, person in enumerate(ret.persons, start=1):
        say = lambda label, module, item, reason, severity="error": out.append(  # noqa: E731
            Finding(label, module, position, item, reason, severity))
        upn = person.get("UPN")
        if upn and re.fullmatch(r"[A-Za-z]\d{12}|[A-Za-z]\d{11}[A-Za-z]", upn):
            letter = upn_check_letter(upn)
            if letter is None or letter != upn[0].upper():
                say(OURS, "Person", "UPN", "the check letter (character 1) does not match the other twelve")
        if not (upn or person.get("UniqueLearnerNumber") or person.get("UPNunknown")):
            say(OURS, "Person", "UPN", "none of UPN, UniqueLearnerNumber or UPNunknown is given", "warning")
        for request in person.all("Requests"):
            _request_rules(request, say, reference, period)
    return out


def _request_rules(request: Node, say, reference: dt.date | None, period: tuple[dt.date, dt.date]) -> None:
    outcome = request.get("RequestOutcome")
    received = _date(request.get("ReceivedDate"))
    decided = _date(request.get("RequestOutcomeDate"))
    assessment = request.first("Assessment")
    if outcome not in ("H", "") and received is None:
        say(DFE, "Requests", "ReceivedDate", "required unless RequestOutcome is H (guide item 2.1)")
    if received and decided and decided < received:
        say(OURS, "Requests", "RequestOutcomeDate", "before ReceivedDate")
    if outcome in ("N", "A", "W") and assessment is not None and assessment.first("NamedPlan") is not None:
        say(OURS, "NamedPlan", "StartDate", f"a named plan under RequestOutcome {outcome}: only after a decision to assess")
    dates = [("Requests", "ReceivedDate", received), ("Requests", "RequestOutcomeDate", decided)]
    if assessment is not None:
        result = assessment.get("AssessmentOutcome")
        made = _date(assessment.get("AssessmentOutcomeDate"))
        if result in ("Y", "N") and made is None:
            say(DFE, "Assessment", "AssessmentOutcomeDate", f"required when AssessmentOutcome is {result} (guide item 3.2)")
        if made and decided and made < decided:
            say(OURS, "Assessment", "AssessmentOutcomeDate", "before RequestOutcomeDate")
        dates.append(("Assessment", "AssessmentOutcomeDate", made))
        plan = assessment.first("NamedPlan")
        if plan is not None:
            start = _date(plan.get("StartDate"))
            if result not in ("Y", "H"):  # H: a plan made before the collection period
                say(OURS, "NamedPlan", "StartDate", f"a named plan needs AssessmentOutcome Y (it is {result or 'blank'})")
            if start and received and start < received:
                say(OURS, "NamedPlan", "StartDate", "before ReceivedDate")
            if start and period[0] <= start <= period[1] and assessment.get("Week20") == "" and result != "H":
                say(OURS, "Assessment", "Week20", "not given for a plan started in the collection period "
                                                  f"({period[0].year}): the 20-week measure needs it")
            dates.append(("NamedPlan", "StartDate", start))
    active = request.first("ActivePlans")
    if active is not None and active.get("ReviewDraft") and active.get("ReviewOutcome") in ("M", "C"):
        say(OURS, "ActivePlans", "ReviewDraft", f"a draft amended plan under ReviewOutcome {active.get('ReviewOutcome')}: "
                                                "only after a decision to amend (A)", "warning")
    if active is not None:
        dates += [("ActivePlans", name, _date(active.get(name))) for name in ("ReviewMeeting", "LastReview", "ReviewDraft",
                                                                              "PhaseTransferFinalDate")]
    if reference:
        for module, item, day in dates:
            if day and day > reference:
                say(OURS, module, item, "after the return's ReferenceDate")
