"""The people file: who receives alerts (``id,name,email,team,role``), validated like an extract.

``id`` is the value the extracts put in their ``caseworker`` column; ``role`` is ``caseworker`` or
``team_lead``. Every problem is reported at once, naming the file, the spreadsheet row (the header is
row 1), the column and the reason; nothing is sent from a file with problems.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

from ..errors import EhcpError, ImportRejected, Problem

COLUMNS = ("id", "name", "email", "team", "role")
ROLES = ("caseworker", "team_lead")


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


def read_people(path: Path | str) -> People:
    """Read and check a people file (CSV in UTF-8 or Windows-1252, or the first sheet of an XLSX)."""
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise EhcpError(f"--people: {path} does not exist or is not a file")
    header, rows = _read_xlsx(path, file) if path.suffix.lower() in (".xlsx", ".xlsm") else _read_csv(path, file)
    names = [str(h).strip().casefold() for h in header]
    problems = [Problem(file, 1, column, "missing_column", f"the column {column!r} is missing")
                for column in COLUMNS if column not in names]
    if problems:
        raise ImportRejected(file, problems)
    where = {column: names.index(column) for column in COLUMNS}
    people, seen = [], {}
    for number, cells in rows:
        values = {c: _text(cells[where[c]]) if where[c] < len(cells) else "" for c in COLUMNS}
        found = _check(file, number, values, seen)
        problems += found
        if not found:
            seen[values["id"].casefold()] = number
            people.append(Person(values["id"], values["name"], values["email"], values["team"], values["role"].lower()))
    if problems:
        raise ImportRejected(file, problems)
    if not people:
        raise EhcpError(f"{file}: the people file has a header but nobody in it")
    return People(people)


def _check(file: str, number: int, values: dict[str, str], seen: dict[str, int]) -> list[Problem]:
    problems = []

    def bad(column: str, code: str, message: str) -> None:
        problems.append(Problem(file, number, column, code, message))

    if not values["id"]:
        bad("id", "required", "an id is required (the caseworker value the extracts use)")
    elif values["id"].casefold() in seen:
        bad("id", "duplicate", f"id {values['id']!r} is also on row {seen[values['id'].casefold()]} "
                               "(ids are matched without regard to case)")
    email = values["email"]
    if not email:
        bad("email", "required", "an email address is required")
    elif parseaddr(email)[1] != email or email.count("@") != 1 or not all(email.split("@")) or " " in email:
        bad("email", "invalid", "not an email address (expected name@example.org)")
    role = values["role"].lower()
    if role not in ROLES:
        bad("role", "invalid", f"{values['role']!r} is not one of {', '.join(ROLES)}"
            if values["role"] else f"a role is required ({', '.join(ROLES)})")
    elif role == "team_lead" and not values["team"]:
        bad("team", "required", "a team lead needs a team (the team value the extracts use)")
    return problems


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # an id Excel turned into 12345.0
    return str(value).strip()


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
        raise EhcpError(f"{file}: not a readable CSV file (line {reader.line_num}: {exc})") from exc
    records = [(n, r) for n, r in records if any(c.strip() for c in r)]
    if not records:
        raise EhcpError(f"{file}: the file is empty (no header and no rows)")
    return records[0][1], records[1:]


def _read_xlsx(path: Path, file: str) -> tuple[list[str], list[tuple[int, list]]]:
    from zipfile import BadZipFile

    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except (BadZipFile, KeyError, OSError, ValueError, EOFError) as exc:
        raise EhcpError(f"{file}: not a readable Excel workbook (.xlsx): {exc}") from exc
    try:
        rows = [(n, ["" if v is None else v for v in values])
                for n, values in enumerate(workbook.worksheets[0].iter_rows(values_only=True), start=1)
                if any(v is not None and str(v).strip() for v in values)]
    finally:
        workbook.close()
    if not rows:
        raise EhcpError(f"{file}: the first sheet is empty (no header and no rows)")
    return [str(v) for v in rows[0][1]], rows[1:]
