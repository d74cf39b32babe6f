"""One small hierarchy of user errors.

Every error a user can cause (a bad file, a bad rule, a bad option) is an ``EhcpError``; the CLI maps
it to an exit code and prints it as one line with no traceback. Anything else is a bug and keeps its
traceback, so it can be reported.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass


class EhcpError(Exception):
    """A problem with the user's input or configuration (exit code 1)."""

    exit_code = 1


class UsageError(EhcpError):
    """The command was called wrongly (exit code 2, as click does)."""

    exit_code = 2


class RuleBookError(EhcpError):
    """A rule file is malformed; no command runs on a rule book that fails its checks."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("the rule book has problems:\n" + "\n".join(f"  {p}" for p in problems))


@dataclass(frozen=True)
class Problem:
    """One bad cell: the record the rejects file is made of.

    ``row`` is the row number a person sees in a spreadsheet (the header is row 1).
    Messages name IDs and columns, never personal values such as names or dates of birth.
    """

    file: str
    row: int | None
    column: str | None
    code: str
    message: str
    header: str | None = None  # the file's own name for ``column`` when a profile renamed it

    def __str__(self) -> str:
        where = self.file
        if self.row is not None:
            where += f", row {self.row}"
        if self.column:
            where += f", column {self.header!r} ({self.column})" if self.header else f", column {self.column}"
        return f"{where}: {self.message}"


# A column's problem of one kind on many rows is one group: its count, its first rows and the first
# few problems in full; every one of them is still in the rejects file and the summary JSON.
GROUP_SHOWN = 3
GROUP_ROWS_NAMED = 10


def grouped_problems(problems: list[Problem], shown: int = GROUP_SHOWN) -> list[str]:
    """The problems as lines for people, grouped by column and reason in the order their first rows
    come: a group of up to ``shown`` problems is listed whole; a larger one gets a line with its
    count and first rows, then its first ``shown`` problems."""
    groups: dict[tuple, list[Problem]] = {}
    for problem in problems:
        key = (problem.column, problem.code) if problem.row is not None else (id(problem),)
        groups.setdefault(key, []).append(problem)
    lines = []
    for members in sorted(groups.values(), key=lambda g: min((p.row or 0) for p in g)):
        members = sorted(members, key=lambda p: p.row or 0)
        if len(members) > shown:
            first = members[0]
            column = f"{first.header!r} ({first.column})" if first.header else first.column or "(no column)"
            rows = [str(p.row) for p in members[:GROUP_ROWS_NAMED]]
            more = len(members) - len(rows)
            named = ", ".join(rows) + (f" and {more} more" if more else "")
            lines.append(f"column {column}, {first.code.replace('_', ' ')}: {len(members)} rows ({named}); the first {shown}:")
            lines += [f"  {p}" for p in members[:shown]]
        else:
            lines += [str(p) for p in members]
    return lines


class ImportRejected(EhcpError):
    """A file failed validation; nothing from it was stored."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        rows = len({p.row for p in problems if p.row is not None})
        where = f" in {rows} {'row' if rows == 1 else 'rows'}" if rows > 1 else ""
        lines = "\n".join(f"  {line}" for line in grouped_problems(problems))
        super().__init__(f"{file}: {len(problems)} {noun}{where}; nothing was imported from this file:\n{lines}")


# --- Faults of the machine rather than of the input --------------------------------------------------
#
# Each is one line and exit 1, so a cron mail says what went wrong without a traceback (and without
# the statement parameters a database traceback would print: person IDs, dates of birth). They are
# made in one place, ``environment_fault``, from whatever the OS or the database driver raised.


class EnvironmentFault(EhcpError):
    """The machine, not the input: disk, permissions, locks, the database server."""


class DiskFull(EnvironmentFault):
    """No space left (on the disk of an output file, or of the database)."""


class ReadOnly(EnvironmentFault):
    """The database or the target folder cannot be written."""


class DatabaseLocked(EnvironmentFault):
    """Another process holds the database's write lock for longer than we were told to wait."""


class ServerGone(EnvironmentFault):
    """The database server cannot be reached, or went away part-way."""


class NotADatabase(EnvironmentFault):
    """``--db`` names a file that is not an SQLite database (or a damaged one)."""


class UnwritablePath(EnvironmentFault):
    """An output path that cannot be written: a folder, a missing folder, no permission."""


class BadOptionDate(EhcpError):
    """A date option the tool cannot work with (``--as-of 9999-12-31``)."""


# SQLSTATE classes (PostgreSQL appendix A) and SQLite's own messages, in the order they are tried.
_PG_STATES = (("53100", DiskFull, "the database server's disk is full"),
              ("25006", ReadOnly, "the database is read-only (a standby server, or default_transaction_read_only)"),
              ("57P", ServerGone, "the database server shut down or restarted during the command"),
              ("08", ServerGone, "lost the connection to the database server"),
              ("55P03", DatabaseLocked, "the database is locked by another process"),
              ("42501", ReadOnly, "the database role has no permission for this"))
_SQLITE_MESSAGES = (("database or disk is full", DiskFull, "the disk holding the database is full"),
                    ("disk i/o error", DiskFull, "disk I/O error writing the database (disk full or failing?)"),
                    ("readonly database", ReadOnly, "the database file (or its folder) is read-only"),
                    ("database is locked", DatabaseLocked, "the database is locked by another process"),
                    ("file is not a database", NotADatabase, "--db does not name an SQLite database file"),
                    ("database disk image is malformed", NotADatabase, "the database file is damaged"),
                    ("unable to open database file", ReadOnly, "cannot open the database file (folder missing "
                                                               "or not writable?)"))
_OS_ERRORS = {errno.ENOSPC: (DiskFull, "no space left on the disk"),
              errno.EDQUOT: (DiskFull, "disk quota exceeded"),
              errno.EROFS: (ReadOnly, "the disk is read-only"),
              errno.EACCES: (UnwritablePath, "permission denied"),
              errno.EPERM: (UnwritablePath, "not permitted"),
              errno.EISDIR: (UnwritablePath, "is a folder, not a file"),
              errno.ENOENT: (UnwritablePath, "no such file or folder"),
              errno.ENOTDIR: (UnwritablePath, "a part of the path is not a folder"),
              errno.ENAMETOOLONG: (UnwritablePath, "file name too long"),
              errno.ELOOP: (UnwritablePath, "too many symbolic links (or a link where none may be)")}


def environment_fault(exc: BaseException) -> EhcpError | None:
    """The one-line user error for an OS or database-driver exception, or None for a bug.

    Only the fault's kind and the driver's own primary message are kept: never the SQL statement's
    parameters, never a ``COPY`` context line (both would print children's data to a cron mail).
    """
    if isinstance(exc, EhcpError):
        return exc
    original = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's exception
    state = getattr(original, "sqlstate", None) or getattr(getattr(original, "diag", None), "sqlstate", None)
    if state:
        for prefix, cls, text in _PG_STATES:
            if state.startswith(prefix):
                return cls(f"database: {text}")
    module = type(original).__module__ or ""
    message = str(original).splitlines()[0].lower() if str(original) else ""
    if module.startswith("sqlite3"):
        for needle, cls, text in _SQLITE_MESSAGES:
            if needle in message:
                return cls(f"database: {text}")
    if module.startswith("psycopg") and type(original).__name__ in ("OperationalError", "InterfaceError"):
        return ServerGone("database: cannot reach the database server, or it closed the connection "
                          f"({driver_message(original)})")
    if isinstance(original, OSError) and original.errno in _OS_ERRORS:
        cls, text = _OS_ERRORS[original.errno]
        where = f"{original.filename}: " if original.filename else ""
        return cls(f"{where}{text}")
    if isinstance(original, MemoryError):
        return EnvironmentFault("out of memory")
    return None


def driver_message(error: BaseException) -> str:
    """The driver's one-line message with anything quoted (which may be a value) left out."""
    diag = getattr(error, "diag", None)
    text = (getattr(diag, "message_primary", None) or str(error)).splitlines()[0] if str(error) else ""
    return re.sub(r'"[^"]*"|\'[^\']*\'', "'...'", text)[:160]
