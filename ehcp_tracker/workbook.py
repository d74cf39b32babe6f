"""Opening an Excel workbook someone sent us: every ``.xlsx`` the tool reads comes through here.

Extracts and the people file are both workbooks a council's staff (or anyone who can drop a file in
the import folder) made, so both get the same bounds, checked before openpyxl parses anything:

- the zip layer: members too many, too large, or compressed suspiciously well (a 2 MB zip can
  inflate to 2 GB of whitespace); any error of the zip library itself (a bit-flipped header gives
  ``NotImplementedError``, an encrypted member ``RuntimeError``) is one line, never a traceback;
- the shared strings: openpyxl loads the whole shared-string table into memory before the first
  row, so its size and count are bounded relative to the cells the sheets really hold (6 million
  unique strings behind 49 rows is not a spreadsheet anyone typed);
- the cells: ``<dimension>`` is ignored (a 2 KB sheet can declare A1:XFD1048576), rows stop at
  Excel's last, the cells walked are counted, and a cell longer than Excel's own limit (32,767
  characters, shared or inline) is refused.

Every refusal is an ``EhcpError`` of one line naming the file; the content of a cell never appears.
"""

from __future__ import annotations

import contextlib
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from .errors import EhcpError
from .output import CONTROL

# Excel's own limits bound rows and columns; a real extract compresses 5-20 times, so 100 is
# generous for any member worth checking.
XLSX_MAX_MEMBERS = 10_000
XLSX_MAX_MEMBER_BYTES = 1 << 30  # 1 GiB uncompressed: some 2 million rows of a wide extract
XLSX_MAX_TOTAL_BYTES = 2 << 30
XLSX_MAX_RATIO = 100
XLSX_RATIO_FROM = 1 << 20  # smaller members may compress as well as they like
XLSX_MAX_ROWS = 1_048_576  # Excel's limit
XLSX_MAX_CELLS = 100_000_000  # cells walked (row widths summed): 2.8x a million-row, 35-column extract
CELL_MAX_CHARS = 32_767  # Excel's limit on the text of one cell

# The shared-string table may hold at most one string per real cell (each unique string is used by
# a cell at least once) plus a little slack for the strings Excel keeps after cells are cleared, and
# on average 1 KiB of XML per real cell (an extract's text columns hold at most 200 characters).
SST_FREE_BYTES = 1 << 20  # a table this small is never worth scanning
SST_SLACK_STRINGS = 1_000
SST_BYTES_PER_CELL = 1 << 10
# The smallest XML a cell can be (``<c t="s"><v>0</v></c>`` is 21 bytes; ``<c/>`` is 4): the
# directory alone then bounds how many cells a sheet can hold, before anything is inflated.
MIN_CELL_BYTES = 4

ZIP_MAGIC = b"PK\x03\x04"
_SST_TYPE = b"spreadsheetml.sharedStrings+xml"
_SHEET_TYPE = b"spreadsheetml.worksheet+xml"
_CELL = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s>/]")
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s>/]")
_CHUNK = 1 << 22
_OVERLAP = 64  # a tag split across two chunks is counted once: the next chunk starts this far back

# Whatever the zip library raises on a damaged or hostile archive (its own errors, and the ones of
# zlib and struct below it): a damaged workbook, one line.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, OSError,
               ValueError, EOFError, KeyError, OverflowError, zlib.error, UnicodeDecodeError, IndexError)


def damaged(file: str, exc: BaseException) -> EhcpError:
    return EhcpError(f"{file}: not a readable Excel workbook (.xlsx), damaged or truncated "
                     f"(cut short in copying?): {why(exc)}")


def why(exc: BaseException) -> str:
    """What went wrong in a workbook, without its content: the error's kind, and its message when
    that is short and quotes nothing (a quoted part may be a cell's value)."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    quiet = not text or len(text) > 80 or CONTROL.search(text) or any(q in text for q in "'\"<")
    return type(exc).__name__ + ("" if quiet else f" ({text})")


def check_start(path: Path, file: str, not_a_workbook: str) -> None:
    """An empty file, or one that is not a zip at all, said in one line (``not_a_workbook`` says
    what it may be instead)."""
    try:
        with open(path, "rb") as handle:
            start = handle.read(8)
    except OSError as exc:
        raise EhcpError(f"{file}: cannot read: {exc.strerror}") from None
    if not start:
        raise EhcpError(f"{file}: the file is empty (0 bytes)")
    if not start.startswith(ZIP_MAGIC):
        raise EhcpError(f"{file}: not an Excel .xlsx workbook: {not_a_workbook}")


def check_zip_bounds(path: Path, file: str) -> None:
    """Refuse a workbook whose members are too many, too large or compressed suspiciously well, or
    whose shared strings outweigh its cells.

    The sizes are the zip directory's; a member that claims less than it holds is cut off at its
    claim by ``zipfile`` (and then fails its CRC check), so the claim is a real bound.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_members(members, file)
            _check_shared_strings(archive, members, file)
    except EhcpError:
        raise
    except _ZIP_ERRORS as exc:
        raise damaged(file, exc) from None


def _check_members(members: list[zipfile.ZipInfo], file: str) -> None:
    if len(members) > XLSX_MAX_MEMBERS:
        raise EhcpError(f"{file}: the workbook has {len(members)} parts (at most {XLSX_MAX_MEMBERS}): not an extract")
    total = 0
    for member in members:
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > XLSX_MAX_MEMBER_BYTES or total > XLSX_MAX_TOTAL_BYTES:
            raise EhcpError(f"{file}: the workbook unpacks to more than {XLSX_MAX_MEMBER_BYTES >> 30} GiB: "
                            "too large to be an extract (or a zip bomb); export it as CSV")
        if member.file_size > XLSX_RATIO_FROM and ratio > XLSX_MAX_RATIO:
            raise EhcpError(f"{file}: a part of the workbook is compressed {ratio:.0f} times "
                            f"(at most {XLSX_MAX_RATIO}): refused as a possible zip bomb")


def _parts(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo]) -> tuple[list, list]:
    """(shared-string parts, worksheet parts): by the names Excel gives them and by the content
    types the package declares (openpyxl finds the shared strings by their content type)."""
    declared: dict[str, bytes] = {}
    types = next((m for m in members if m.filename == "[Content_Types].xml"), None)
    if types is not None and types.file_size <= XLSX_RATIO_FROM:
        text = archive.read(types)
        for match in re.finditer(rb'PartName="/?([^"]+)"[^>]*ContentType="([^"]+)"', text):
            declared[match[1].decode("utf-8", "replace")] = match[2]
    strings, sheets = [], []
    for member in members:
        name, kind = member.filename, declared.get(member.filename, b"")
        if _SST_TYPE in kind or name.lower().rsplit("/", 1)[-1] == "sharedstrings.xml":
            strings.append(member)
        elif _SHEET_TYPE in kind or name.lower().startswith("xl/worksheets/") and name.lower().endswith(".xml"):
            sheets.append(member)
    return strings, sheets


def _check_shared_strings(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], file: str) -> None:
    strings, sheets = _parts(archive, members)
    string_bytes = sum(m.file_size for m in strings)
    if string_bytes <= SST_FREE_BYTES:
        return
    sheet_bytes = sum(m.file_size for m in sheets)
    most_cells = sheet_bytes // MIN_CELL_BYTES
    refusal = (f"{file}: the workbook's shared strings ({string_bytes:,} bytes) are out of proportion to "
               "its cells: not a spreadsheet anyone typed (or a zip bomb); export it as CSV")
    if string_bytes > SST_FREE_BYTES + SST_BYTES_PER_CELL * most_cells:
        raise EhcpError(refusal)
    count = sum(_count(archive, m, _SHARED_STRING) for m in strings)
    # cells needed to justify the table: one per unique string (less the slack), 1 KiB per cell
    needed = max(count - SST_SLACK_STRINGS, -(-(string_bytes - SST_FREE_BYTES) // SST_BYTES_PER_CELL))
    cells = 0
    for member in sheets:
        cells += _count(archive, member, _CELL, stop_at=needed - cells)
        if cells >= needed:
            return
    raise EhcpError(f"{file}: the workbook has {count:,} shared strings ({string_bytes:,} bytes) but its sheets "
                    f"only {cells:,} cells: not a spreadsheet anyone typed (or a zip bomb); export it as CSV")


def _count(archive: zipfile.ZipFile, member: zipfile.ZipInfo, pattern: re.Pattern, stop_at: int | None = None) -> int:
    """How often ``pattern`` occurs in a member, inflated a chunk at a time (never whole in memory);
    ``stop_at``: stop counting once this many are found."""
    found, tail = 0, b""
    with archive.open(member) as handle:
        while chunk := handle.read(_CHUNK):
            data = tail + chunk
            # matches wholly inside the overlap were counted with the previous chunk
            found += len(pattern.findall(data)) - (len(pattern.findall(tail)) if tail else 0)
            tail = data[-_OVERLAP:]
            if stop_at is not None and found >= stop_at:
                break
    return found


@contextlib.contextmanager
def open_workbook(path: Path, file: str, not_a_workbook: str) -> Iterator:
    """An openpyxl workbook (read-only, values only) of a file that passed every bound above.

    openpyxl parses with defusedxml (a dependency): entities, external references and DTDs are
    refused. Whatever a hostile or damaged workbook makes openpyxl raise is a damaged workbook: the
    broad catch is around the third-party parser only, never our own checks.
    """
    from openpyxl import load_workbook

    check_start(path, file, not_a_workbook)
    check_zip_bounds(path, file)
    with open(path, "rb") as source:  # ours to close, whatever openpyxl leaves open on a damaged file
        try:
            workbook = load_workbook(source, read_only=True, data_only=True)
        except Exception as exc:  # noqa: BLE001 - see above
            raise damaged(file, exc) from None
        try:
            yield workbook
        finally:
            with contextlib.suppress(Exception):
                workbook.close()


def sheet_rows(sheet, file: str) -> Iterator[tuple[int, list]]:
    """(row number, values) of every row up to Excel's last, ignoring the sheet's ``<dimension>``.

    Without ``reset_dimensions`` openpyxl pads every row to the declared width and height (a sheet
    declaring A1:XFD1048576 is 17 billion cells); with it a row is as wide as its last cell. The
    cells walked are counted, so rows of stray far-right cells cannot make it unbounded either.
    """
    sheet.reset_dimensions()
    walked = 0
    for number, values in enumerate(sheet.iter_rows(max_row=XLSX_MAX_ROWS, values_only=True), start=1):
        walked += len(values) + 1
        if walked > XLSX_MAX_CELLS:
            raise EhcpError(f"{file}: more than {XLSX_MAX_CELLS:,} cells in the first sheet (up to row {number}): "
                            "too large to be an extract; export it as CSV")
        for column, value in enumerate(values, start=1):
            if isinstance(value, str) and len(value) > CELL_MAX_CHARS:
                raise EhcpError(f"{file}, row {number}, column {column}: a cell of {len(value):,} characters "
                                f"(Excel holds at most {CELL_MAX_CHARS:,}): not a spreadsheet anyone typed")
        yield number, list(values)
