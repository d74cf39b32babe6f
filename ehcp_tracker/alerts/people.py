"""The people file: who receives alerts (``id,name,email,team,role``), validated like an extract.

``id`` is the value the extracts put in their ``caseworker`` column; ``role`` is ``caseworker`` or
``team_lead``. The file is typed by hand, so it is not trusted: a value holding a control character,
a Unicode line or paragraph separator (U+2028, U+2029, U+0085) or a bidirectional override (U+202E)
could split a mail header into two recipients or make a digest read other than it is; an address
must be one plain ``local@domain``. Each bad row is reported, naming the file, the spreadsheet row
(the header is row 1), the column and the reason, and skipped: everyone else is still alerted (a
skipped caseworker's cases go to their team leads, like a caseworker missing from the file), and
the command ends non-zero so the row gets fixed. A missing column, or a file with nobody valid in
it, refuses the whole file.

``read_people`` is the one reader: ``ehcp alerts`` uses it, and so may any command that imports
staff from the same file.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from pathlib import Path

from ..errors import EhcpError, ImportRejected, Problem

COLUMNS = ("id", "name", "email", "team", "role")
ROLES = ("caseworker", "team_lead")
# Longest values a row may hold: an id as long as an extract's caseworker id, a name and a team as
# long as any person's, an address as long as SMTP allows (RFC 5321 4.5.3.1: 64 local, 254 path).
LIMITS = {"id": 64, "name": 200, "email": 254, "team": 100, "role": 20}
PEOPLE_MAX_BYTES = 16 << 20  # a people file lists staff: tens of thousands of rows at the most
# C0 and C1 controls (U+0085 NEXT LINE among them), DEL, the Unicode line and paragraph separators,
# and every bidirectional control (marks, embeddings, overrides, isolates): none belongs in a name.
FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
                       "\ufeff\ufff9-\ufffb]")
# A plain address: dot-atom local part (RFC 5322 3.2.3) @ a host name of letters, digits and hyphens
# (RFC 1035 2.3.1), ASCII only (an address needing SMTPUTF8 is not accepted by every council relay).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
ADDRESS = re.compile(rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>{_LABEL}(?:\.{_LABEL})*)")


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str
    team: str
    role: str

    @property
    def key(self) -> str:
        """How the person is matched and recorded: the id, case-insensitive."""
        return self.id.casefold()


@dataclass
class People:
    """Everyone in the file, looked up by id and by team (both case-insensitive)."""

    everyone: list[Person]
    problems: list[Problem] = field(default_factory=list)  # the rows skipped, and why
    skipped: dict[str, int] = field(default_factory=dict)  # id (case-folded) of a skipped row -> its row
    by_id: dict[str, Person] = field(init=False)
    leads_by_team: dict[str, list[Person]] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {p.key: p for p in self.everyone}
        self.leads_by_team = {}
        for person in self.everyone:
            if person.role == "team_lead":
                self.leads_by_team.setdefault(person.team.casefold(), []).append(person)

    def named(self, caseworker) -> Person | None:
        if not isinstance(caseworker, str) or not caseworker.strip():
            return None
        return self.by_id.get(caseworker.strip().casefold())

    def team_leads(self, team) -> list[Person]:
        if not isinstance(team, str) or not team.strip():
            return []
        return self.leads_by_team.get(team.strip().casefold(), [])


def forbidden_character(text: str) -> str | None:
    """The name of the first character a people-file value (or ``--from``) must not hold, or None."""
    found = FORBIDDEN.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def address_problem(text: str) -> str | None:
    """Why ``text`` is not one plain address (``local@domain``), or None when it is."""
    if len(text) > LIMITS["email"]:
        return f"an address of {len(text)} characters (at most {LIMITS['email']})"
    match = ADDRESS.fullmatch(text)
    if match is None:
        return "not an email address (expected name@example.org)"
    if len(match["local"]) > 64:
        return "the part before @ is longer than 64 characters"
    try:
        Address(addr_spec=text)
    except (ValueError, IndexError, TypeError):  # the email package's own parser is the last word
        return "not an email address (expected name@example.org)"
    return None


def mailbox(name: str, email: str) -> Address:
    """A structured address for a header: the email package quotes or encodes the display name,
    so nothing in it can read as a second recipient."""
    return Address(display_name=name, addr_spec=email)


def parse_sender(value: str) -> Address:
    """``--from``: ``name@example.org`` or ``Name <name@example.org>``, checked like a people-file row."""
    from email.headerregistry import HeaderRegistry

    text = (value or "").strip(" ")
    bad = forbidden_character(text)
    if bad:
        raise EhcpError(f"--from: contains the character {bad} (line breaks and control characters are not allowed)")
    if "<" in text:
        try:
            header = HeaderRegistry()("From", text)
            addresses = header.addresses
        except (ValueError, IndexError, TypeError, AttributeError):
            addresses = ()
        if len(addresses) != 1 or getattr(header, "defects", ()) or address_problem(addresses[0].addr_spec):
            raise EhcpError(f"--from: not one email address (expected send-alerts@council.gov.uk or "
                            "\"SEND alerts <send-alerts@council.gov.uk>\")")
        return mailbox(addresses[0].display_name, addresses[0].addr_spec)
    problem = address_problem(text)
    if problem:
        raise EhcpError(f"--from: {problem}")
    return mailbox("", text)


def read_people(path: Path | str, *, strict: bool = False) -> People:
    """Read and check a people file (CSV in UTF-8 or Windows-1252, or the first sheet of an XLSX).

    Bad rows are skipped and listed in ``People.problems`` (``strict``: refused, every problem at
    once, as ``ImportRejected``). A file missing a column, or with nobody valid in it, is refused.
    """
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise EhcpError(f"--people: {path} does not exist or is not a file")
    if path.stat().st_size > PEOPLE_MAX_BYTES:
        raise EhcpError(f"{file}: {path.stat().st_size:,} bytes: too large to be a people file "
                        f"(at most {PEOPLE_MAX_BYTES >> 20} MiB)")
    header, rows = _read_xlsx(path, file) if path.suffix.lower() in (".xlsx", ".xlsm") else _read_csv(path, file)
    names = [_text(h).casefold() for h in header]
    problems = [Problem(file, 1, column, "missing_column", f"the column {column!r} is missing")
                for column in COLUMNS if column not in names]
    if problems:
        raise ImportRejected(file, problems)
    where = {column: names.index(column) for column in COLUMNS}
    people, seen, skipped = [], {}, {}
    for number, cells in rows:
        values = {c: _text(cells[where[c]]) if where[c] < len(cells) else "" for c in COLUMNS}
        found = _check(file, number, values, seen)
        problems += found
        if found:
            if values["id"] and not FORBIDDEN.search(values["id"]) and len(values["id"]) <= LIMITS["id"]:
                skipped.setdefault(values["id"].casefold(), number)
            continue
        seen[values["id"].casefold()] = number
        people.append(Person(values["id"], values["name"], values["email"], values["team"], values["role"].lower()))
    if problems and (strict or not people):
        raise ImportRejected(file, problems)
    if not people:
        raise EhcpError(f"{file}: the people file has a header but nobody in it")
    return People(people, problems=problems, skipped=skipped)


def _check(file: str, number: int, values: dict[str, str], seen: dict[str, int]) -> list[Problem]:
    """Every problem of one row (the values are never quoted back: they are people's names)."""
    problems = []

    def bad(column: str, code: str, message: str) -> None:
        problems.append(Problem(file, number, column, code, message))

    for column in COLUMNS:
        character = forbidden_character(values[column])
        if character:
            bad(column, "control", f"contains the character {character} (line breaks, control characters and "
                                   "bidirectional overrides are not allowed)")
        elif len(values[column]) > LIMITS[column]:
            bad(column, "too_long", f"a value of {len(values[column])} characters (at most {LIMITS[column]})")
    if problems:
        return problems  # the checks below would only repeat the same cells
    if not values["id"]:
        bad("id", "required", "an id is required (the caseworker value the extracts use)")
    elif values["id"].casefold() in seen:
        bad("id", "duplicate", f"id {values['id']!r} is also on row {seen[values['id'].casefold()]} "
                               "(ids are matched without regard to case)")
    if not values["name"]:
        bad("name", "required", "a name is required (it heads the digest)")
    email = values["email"]
    if not email:
        bad("email", "required", "an email address is required")
    else:
        problem = address_problem(email)
        if problem:
            bad("email", "invalid", problem)
    role = values["role"].lower()
    if role not in ROLES:
        bad("role", "invalid", (f"{values['role']!r} is not one of {', '.join(ROLES)}"
                                if re.fullmatch(r"[A-Za-z_]{1,20}", values["role"])
                                else f"a value of {len(values['role'])} characters is not one of {', '.join(ROLES)}")
            if values["role"] else f"a role is required ({', '.join(ROLES)})")
    elif role == "team_lead" and not values["team"]:
        bad("team", "required", "a team lead needs a team (the team value the extracts use)")
    return problems


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an id Excel turned into 12345.0
    return str(value).strip(" \t\r\n")


def _read_csv(path: Path, file: str) -> tuple[list[str], list[tuple[int, list]]]:
    raw = path.read_bytes()
    if raw.startswith(b"PK\x03\x04"):
        raise EhcpError(f"{file}: this is an Excel workbook (or another zip file); give it an .xlsx name")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes all but five byte values; kept for those
        raise EhcpError(f"{file}: not UTF-8 or Windows-1252 text; is it really a CSV file?")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        records = list(enumerate(reader, start=1))  # the row a spreadsheet shows (header = 1)
    except csv.Error as exc:
        raise EhcpError(f"{file}: not a readable CSV file (line {reader.line_num}: {exc})") from None
    records = [(n, r) for n, r in records if any(c.strip() for c in r)]
    if not records:
        raise EhcpError(f"{file}: the file is empty (no header and no rows)")
    return records[0][1], records[1:]


def _read_xlsx(path: Path, file: str) -> tuple[list[str], list[tuple[int, list]]]:
    """The first sheet, within the bounds every workbook gets (``workbook``: zip layer, shared
    strings, cells)."""
    from ..workbook import open_workbook, sheet_rows, why

    with open_workbook(path, file, "it does not start like one (is it a CSV file with an .xlsx name?)") as book:
        if not book.worksheets:
            raise EhcpError(f"{file}: the workbook has no worksheet")
        try:
            rows = [(n, ["" if v is None else v for v in values]) for n, values in sheet_rows(book.worksheets[0], file)
                    if any(v is not None and str(v).strip() for v in values)]
        except EhcpError:
            raise
        except Exception as exc:  # noqa: BLE001 - around openpyxl's row parser (see workbook.open_workbook)
            raise EhcpError(f"{file}: the Excel workbook is damaged or truncated: {why(exc)}") from None
    if not rows:
        raise EhcpError(f"{file}: the first sheet is empty (no header and no rows)")
    return [_text(v) for v in rows[0][1]], rows[1:]
