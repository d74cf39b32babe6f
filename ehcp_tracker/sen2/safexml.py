"""Reading an XML return safely: defusedxml (no DTD, no entities, no external references), bounded
in size and depth, streamed one Person at a time.

Why: a return is a file from outside; a billion-laughs or an external-entity file must be refused in
one line before it can expand or fetch anything, and a file claiming gigabytes must be refused before
it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ..errors import EhcpError

MAX_BYTES = 512 * 1024 * 1024  # the largest council's return is tens of MB; 512 MiB is far beyond any
MAX_DEPTH = 12  # Message/Persons/Person/Requests/Assessment/NamedPlan/PlanDetail/URN is 8 deep


class ReturnRefused(EhcpError):
    """The file is not an SEN2 return this tool can read; nothing was stored."""


def check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReturnRefused(f"{path.name}: cannot read the file ({exc.strerror})") from None
    if not path.is_file():
        raise ReturnRefused(f"{path.name}: not a regular file")
    if size > MAX_BYTES:
        raise ReturnRefused(f"{path.name}: {size:,} bytes is larger than any SEN2 return "
                            f"(at most {MAX_BYTES:,}); refused unread, nothing stored")
    if size == 0:
        raise ReturnRefused(f"{path.name}: the file is empty; nothing stored")


def elements(path: Path) -> Iterator[tuple[str, object, int]]:
    """(event, element, depth) for every start and end, with every refusal one line."""
    check_size(path)
    depth = 0
    try:
        for event, element in iterparse(str(path), events=("start", "end"),
                                        forbid_dtd=True, forbid_entities=True, forbid_external=True):
            if event == "start":
                depth += 1
                if depth > MAX_DEPTH:
                    raise ReturnRefused(f"{path.name}: elements nested more than {MAX_DEPTH} deep: not an SEN2 "
                                        "return; nothing stored")
                yield event, element, depth
            else:
                yield event, element, depth
                depth -= 1
    except DefusedXmlException as exc:
        what = type(exc).__name__.replace("Forbidden", "").lower() or "construct"
        raise ReturnRefused(f"{path.name}: refused: the XML declares a {what} (a DTD, entities or external "
                            "references are never read in a return); nothing stored") from None
    except ParseError as exc:
        line, column = getattr(exc, "position", (0, 0))
        raise ReturnRefused(f"{path.name}: not well-formed XML (line {line}, column {column}); nothing stored") from None
