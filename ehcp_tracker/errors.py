"""One small hierarchy of user errors.

Every error a user can cause (a bad file, a bad rule, a bad option) is an ``EhcpError``; the CLI maps
it to an exit code and prints it as one line with no traceback. Anything else is a bug and keeps its
traceback, so it can be reported.
"""

from __future__ import annotations

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


class ImportRejected(EhcpError):
    """A file failed validation; nothing from it was stored."""

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems
        noun = "problem" if len(problems) == 1 else "problems"
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{file}: {len(problems)} {noun}; nothing was imported from this file:\n{lines}")
