"""Reading a case-management system's extract: CSV or XLSX, any encoding councils send, any headers.

The result is a table of raw cells (strings from CSV; strings, numbers and dates from Excel) under
canonical column names, with the spreadsheet row number of every row, ready for validation.
"""

from __future__ import annotations

import csv
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EhcpError
from ..output import CONTROL
from ..schema import KINDS
from ..workbook import open_workbook, sheet_rows, why
from . import csv_stream
from .edges import HEADER_SEARCH_ROWS, Skipped, footer_count, header_index

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
UTF8_BOM = csv_stream.UTF8_BOM


@dataclass(frozen=True)
class Profile:
    """A system's own column names (and value spellings) mapped to the canonical extract."""

    name: str
    kind: str | None
    columns: dict[str, str]  # lower-cased source header -> canonical column
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # canonical column -> lower source -> canonical
    source: str = ""


@dataclass
class RawExtract:
    file: str
    cells: pd.DataFrame  # canonical column names; object cells
    row_numbers: pd.Series  # spreadsheet row number of each row
    kind: str
    warnings: list[str]
    encoding: str
    profile: Profile | None = None  # the profile used (given, or detected from the header)
    sources: dict[str, str] = field(default_factory=dict)  # canonical column -> the file's own header
    unknown: list[str] = field(default_factory=list)  # headers matching no column (to suggest misspellings)
    notes: list[str] = field(default_factory=list)  # information, not warnings (e.g. the profile used)
    skipped: Skipped = field(default_factory=Skipped)  # title lines and footer rows left out (not cases)


def profile_search_path() -> list[Path]:
    paths = []
    if os.environ.get("EHCP_PROFILES"):
        paths.append(Path(os.environ["EHCP_PROFILES"]))
    paths += [Path.cwd() / "profiles", PROFILE_DIR]
    return paths


def available_profiles() -> list[str]:
    names = set()
    for folder in profile_search_path():
        if folder.is_dir():
            names.update(p.stem for p in folder.glob("*.toml"))
    return sorted(names)


PROFILE_MAX_BYTES = 1 << 20  # a profile is a page of mappings; anything larger is not one
PROFILE_NAME_MAX = 100  # import_run.profile is VARCHAR(100)


def load_profile(name: str) -> Profile:
    """A profile by name (searched in $EHCP_PROFILES, ./profiles, the shipped ones) or by path.

    Checked like an extract: every problem at once, each naming the file, the key and the reason.
    """
    candidate = Path(name)
    if candidate.suffix == ".toml" and candidate.exists():
        path = candidate
    else:
        path = next((folder / f"{name}.toml" for folder in profile_search_path()
                     if (folder / f"{name}.toml").exists()), None)
        if path is None:
            known = ", ".join(available_profiles()) or "none"
            raise EhcpError(f"--profile: no profile named {shown_header(name)} (available: {known})")
    data = read_small_toml(path, PROFILE_MAX_BYTES, "profile")
    problems = [f"{path}: {key}: {reason}" for key, reason in _profile_problems(data)]
    if problems:
        raise EhcpError("\n".join(problems))
    meta = data.get("profile", {})
    columns = {source.strip().lower(): canonical for source, canonical in data.get("columns", {}).items()}
    shared = data.get("value_maps", {})
    # a column's map is its own table, or the name of a [value_maps.NAME] several columns share
    values = {canonical: {str(k).strip().lower(): str(v)
                          for k, v in (shared[mapping] if isinstance(mapping, str) else mapping).items()}
              for canonical, mapping in data.get("values", {}).items()}
    # a file name stands in for a missing name, cut to what import_run.profile holds
    return Profile(meta.get("name", path.stem[:PROFILE_NAME_MAX]), meta.get("kind"), columns, values, str(path))


def read_small_toml(path: Path, limit: int, what: str) -> dict:
    """A TOML file that must be a regular file of at most ``limit`` bytes (a FIFO would hang the read)."""
    import stat
    import tomllib

    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise EhcpError(f"{path}: not a regular file (a pipe or device?); a {what} must be a .toml file")
        if info.st_size > limit:
            raise EhcpError(f"{path}: {info.st_size:,} bytes: too large to be a {what} (at most {limit:,})")
        text = path.read_bytes().decode("utf-8")
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise EhcpError(f"{path}: not a valid {what} (TOML, UTF-8): {str(exc).splitlines()[0][:120]}") from None
    except OSError as exc:
        raise EhcpError(f"{path}: cannot read the {what}: {exc.strerror}") from None


def _profile_problems(data: dict):
    """(key, reason) for everything wrong in a profile's TOML."""
    for key in data:
        if key not in ("profile", "columns", "values", "value_maps"):
            yield key, "unknown key (allowed: profile, columns, values, value_maps)"
    meta = data.get("profile", {})
    if not isinstance(meta, dict):
        yield "profile", "must be a table ([profile] with name and kind)"
        meta = {}
    for key in meta:
        if key not in ("name", "kind", "description"):
            yield f"profile.{key}", "unknown key (allowed: name, kind, description)"
    profile_name = meta.get("name")
    if profile_name is not None and (not isinstance(profile_name, str) or not profile_name.strip()
                                     or len(profile_name) > PROFILE_NAME_MAX or CONTROL.search(profile_name)):
        yield "profile.name", f"must be a name of 1 to {PROFILE_NAME_MAX} printable characters"
    if meta.get("kind") is not None and meta.get("kind") not in KINDS:
        yield "profile.kind", f"must be one of {', '.join(KINDS)}"
    known_columns = {c for k in KINDS.values() for c in k.names}
    columns = data.get("columns", {})
    if not isinstance(columns, dict):
        yield "columns", "must be a table of \"source header\" = \"canonical column\""
        columns = {}
    for source, canonical in columns.items():
        if not isinstance(canonical, str) or canonical not in known_columns:
            yield f"columns.{shown_header(source)}", "maps to no canonical column (see docs/reference/columns.md)"
        elif not source.strip() or CONTROL.search(source) or len(source) > 200:
            yield f"columns.{shown_header(source)}", "a header must be 1 to 200 printable characters"
    values = data.get("values", {})
    if not isinstance(values, dict):
        yield "values", "must hold tables such as [values.request_outcome]"
        values = {}
    shared = data.get("value_maps", {})
    if not isinstance(shared, dict) or not all(isinstance(m, dict) for m in shared.values()):
        yield "value_maps", "must hold tables such as [value_maps.exceptions], each of \"source value\" = \"canonical value\""
        shared = {}
    for name, mapping in shared.items():
        if not all(isinstance(v, (str, int, bool)) for v in mapping.values()):
            yield f"value_maps.{shown_header(name)}", "each value must map to a text (or number) value"
    for canonical, mapping in values.items():
        if canonical not in known_columns:
            yield f"values.{shown_header(canonical)}", "is not a canonical column"
        elif isinstance(mapping, str):
            if mapping not in shared:
                defined = ", ".join(shown_header(n) for n in shared) or "none"
                yield (f"values.{canonical}", f"names the value map {shown_header(mapping)}, which no [value_maps] "
                       f"table defines (defined: {defined})")
        elif not isinstance(mapping, dict):
            yield f"values.{canonical}", ("must be a table of \"source value\" = \"canonical value\", or the name "
                                          "of a [value_maps.NAME] table")
        elif not all(isinstance(v, (str, int, bool)) for v in mapping.values()):
            yield f"values.{canonical}", "each value must map to a text (or number) value"


def _decode(raw: bytes, file: str) -> tuple[str, str]:
    if raw.startswith(UTF8_BOM):
        try:
            return raw[len(UTF8_BOM):].decode("utf-8", errors="strict"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise EhcpError(f"{file}: starts with a UTF-8 marker but is not UTF-8 (byte {exc.start + 3}): "
                            "damaged or truncated in transfer?") from exc
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as exc:
        raise EhcpError(f"{file}: not UTF-8 or Windows-1252 text (byte {exc.start}); "
                        "is it really a CSV file?") from exc


# What a file that is not a CSV extract usually turns out to be, by its first bytes.
_MAGIC = (
    (b"PK\x03\x04", "an Excel workbook (or another zip file); if it is an extract, give it an .xlsx name"),
    (b"\xd0\xcf\x11\xe0", "an old-style Excel .xls workbook; save it as .xlsx or CSV"),
    (b"%PDF", "a PDF document, not an extract"),
    (b"\x89PNG", "a PNG image, not an extract"),
    (b"\xff\xd8\xff", "a JPEG image, not an extract"),
    (b"{\\rtf", "an RTF document, not an extract"),
)


def _read_csv(path: Path, file: str, known_headers: set[str] = frozenset()) -> tuple[list[str], list, list[int], str, Skipped]:
    """The file's header, columns, row numbers, encoding and skipped rows: streamed in batches
    (``csv_stream``) when it is the common case, else read whole by the csv module."""
    streamed = _read_csv_streamed(path, file, known_headers)
    if streamed is not None:
        return streamed
    return _read_csv_whole(path, file, known_headers)


def _read_csv_streamed(path: Path, file: str, known_headers: set[str]):
    """The common case (a header on the first line, nothing unusual) read a block at a time; None
    when the file needs the whole-file reader (which then reads it, or says what is wrong)."""
    with open(path, "rb") as handle:
        start = handle.read(8)
    if any(start.startswith(magic) for magic, _ in _MAGIC):
        return None  # not text at all: the whole-file reader names what it is
    found = csv_stream.scan(path)
    if found is None:
        return None
    separator = _separator(found.head, file)
    head = _head_records(found.head, separator)
    # the header must end inside the decoded start (a second record follows it), and be line one
    if len(head) < 2 or header_index(head, known_headers) != 0 or not any(c.strip() for c in head[0]):
        return None
    header = head[0]
    result = csv_stream.read_columns(csv_stream.file_pieces(path, found), header, separator,
                                     encoding="utf8" if found.encoding.startswith("utf-8") else "cp1252")
    if result is None:
        return None
    columns, numbers, skipped = result
    return header, columns, numbers, found.encoding, skipped


def _read_csv_whole(path: Path, file: str, known_headers: set[str]) -> tuple[list[str], list, list[int], str, Skipped]:
    raw = path.read_bytes()
    if not raw.strip(b" \t\r\n\xef\xbb\xbf,;"):
        raise EhcpError(f"{file}: the file is empty ({len(raw)} bytes, no header and no rows)")
    for magic, what in _MAGIC:
        if raw.startswith(magic):
            raise EhcpError(f"{file}: this is {what}")
    text, encoding = _decode(raw, file)
    if "\x00" in text:
        raise EhcpError(f"{file}: contains NUL bytes; not a text CSV file (is it a spreadsheet or a UTF-16 export?)")
    utf8 = raw[len(UTF8_BOM):] if encoding == "utf-8-sig" else raw if encoding == "utf-8" else text.encode("utf-8")
    separator = _separator(text, file)
    head = _head_records(text, separator)
    at = header_index(head, known_headers)
    fast = _read_csv_fast(utf8, text, separator) if at == 0 else None
    if fast is not None:
        header, columns, numbers, skipped = fast
        return header, columns, numbers, encoding, skipped
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, delimiter=separator)
    try:
        records = list(reader)
    except csv.Error as exc:
        hint = ("; a quoted value is never closed: is the file truncated?"
                if "end of data" in str(exc) else "; is a quote misplaced inside a value?")
        raise EhcpError(f"{file}: not a readable CSV file (line {reader.line_num}: {exc}{hint})") from exc
    at = header_index(records, known_headers)
    if at is None:
        raise EhcpError(f"{file}: the file has no header row")
    header = records[at]
    skipped = Skipped(title=[i + 1 for i, r in enumerate(records[:at]) if any(c.strip() for c in r)])
    rows, numbers, wide = [], [], []
    for offset, record in enumerate(records[at + 1:], start=at + 2):
        if not any(c.strip() for c in record):
            continue  # blank lines, e.g. trailing ones
        if len(record) > len(header) and any(c.strip() for c in record[len(header):]):
            wide.append((offset, len(record)))  # refused below, unless it is a footer line
        rows.append((record + [""] * len(header))[: len(header)])
        numbers.append(offset)
    footer = footer_count(rows, len(header))
    if footer:
        skipped.footer = numbers[len(numbers) - footer:]
        del rows[len(rows) - footer:], numbers[len(numbers) - footer:]
    for offset, width in wide:
        if offset not in skipped.footer:
            raise EhcpError(f"{file}, row {offset}: {width} cells but the header has {len(header)} (header row "
                            f"{at + 1}): is a {SEPARATORS[separator]} inside an unquoted value, or is the file truncated?")
    if not footer and rows and len(records[-1]) < len(header) and not text.endswith(("\n", "\r")):
        raise EhcpError(f"{file}, row {numbers[-1]}: the last row has {len(records[-1])} of {len(header)} cells "
                        "and no line end: the file looks truncated (cut off mid-row); nothing was imported")
    return header, _columns(rows, len(header)), numbers, encoding, skipped


def _head_records(text: str, separator: str) -> list[list[str]]:
    """The first records of a CSV text, for finding its header (a damaged record ends the look)."""
    reader = csv.reader(io.StringIO(text[: 1 << 16], newline=""), delimiter=separator)
    head = []
    try:
        for record in reader:
            head.append(record)
            if len(head) >= HEADER_SEARCH_ROWS:
                break
    except csv.Error:
        pass
    return head


SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab"}
# Separators some case-management exports offer that we do not read: named in the refusal, so the
# night's operator is told what to change rather than that every required column is missing.
UNREAD_SEPARATORS = {"|": "pipe (|)", "^": "caret (^)", "~": "tilde (~)"}


def _separator(text: str, file: str = "the file") -> str:
    """The separator of the header line (the busiest of the first lines, so that title lines above
    it do not count): a comma, or the semicolon or tab European Excel writes
    ("CSV" saved where the decimal mark is a comma). A header holding none of them but an unread
    separator (a pipe) is refused by name; one holding nothing at all is one column, read with
    commas (the required-column check then names what is missing)."""
    lines = [line for line in text[: 1 << 16].splitlines()[:HEADER_SEARCH_ROWS * 2] if line.strip()][:HEADER_SEARCH_ROWS]
    # the header is the line with the most separators of any kind: title lines above it have few
    header = max(lines, key=lambda line: sum(map(line.count, SEPARATORS)), default="")
    if not any(map(header.count, SEPARATORS)):
        header = max(lines, key=lambda line: sum(map(line.count, UNREAD_SEPARATORS)), default="")
    counts = {sep: header.count(sep) for sep in SEPARATORS}
    best = max(counts, key=lambda sep: counts[sep])
    if not counts[best]:
        unread = max(UNREAD_SEPARATORS, key=header.count)
        if header.count(unread):
            raise EhcpError(f"{file}: the header is separated by {UNREAD_SEPARATORS[unread]}, which is not read; "
                            "export the extract as CSV separated by commas, semicolons or tabs")
    return best if counts[best] > counts[","] else ","


def _columns(rows: list[list], width: int) -> list[list]:
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def _read_csv_fast(data: bytes, text: str, separator: str = ",") -> tuple[list[str], list, np.ndarray, Skipped] | None:
    """The whole-file reader's text read by pyarrow's C++ parser (``csv_stream.read_columns``), each
    column dictionary-encoded (a pandas ``Categorical``: validation then works once per distinct cell).

    It gives exactly what the csv-module path gives: the same header, cells and spreadsheet row
    numbers. Anything unusual (blank records before the end, ragged rows, a parse error, no
    pyarrow) returns None, and the csv-module path reads the file and reports the problem itself.
    """
    data = data.rstrip(b"\r\n")
    if not data or data[:1] in (b"\r", b"\n") or any(pair in data for pair in csv_stream.BLANK_RECORD):
        return None
    if data.count(b'"') % 2:  # a quote never closed (a truncated file): the csv-module path says so
        return None
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
    except (csv.Error, StopIteration):
        return None
    if not any(c.strip() for c in header):
        return None
    result = csv_stream.read_columns([data], header, separator)
    if result is None:
        return None
    columns, numbers, skipped = result
    return header, columns, numbers, skipped


def _read_xlsx(path: Path, file: str, known_headers: set[str]) -> tuple[list[str], list, list[int], str, Skipped]:
    """The first sheet of a workbook, read within ``workbook``'s bounds (zip layer, shared strings,
    cells), every refusal one line."""
    with open(path, "rb") as handle:
        start = handle.read(8)
    what = next((w for m, w in _MAGIC if start.startswith(m)), None)
    with open_workbook(path, file, f"this is {what}" if what else
                       "it does not start like one (is it a CSV file with an .xlsx name?)") as book:
        return _read_sheet(book, file, known_headers)


def _read_sheet(workbook, file: str, known_headers: set[str]) -> tuple[list[str], list, list[int], str, Skipped]:
    try:
        if not workbook.worksheets:
            raise EhcpError(f"{file}: the workbook has no worksheet")
        sheet = workbook.worksheets[0]
        header, rows, numbers, above = None, [], [], []
        for number, values in sheet_rows(sheet, file):
            if header is None:
                names = {str(v).strip().lower() for v in values if v is not None and str(v).strip()}
                # the header is the first row naming at least two known columns (title rows above it are skipped)
                if len(names & known_headers) >= 2 or (number >= HEADER_SEARCH_ROWS and names):
                    header = ["" if v is None else str(v) for v in values]
                elif names:
                    above.append(number)
                continue
            if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
                continue
            values = (values + [None] * len(header))[: len(header)]
            rows.append(["" if v is None else v for v in values])
            numbers.append(number)
        if header is None:
            raise EhcpError(f"{file}: no header row found in the first sheet (no row names two known columns)")
        skipped = Skipped(title=above)
        footer = footer_count(rows, len(header))
        if footer:
            skipped.footer = numbers[len(numbers) - footer:]
            del rows[len(rows) - footer:], numbers[len(numbers) - footer:]
        return header, _columns(rows, len(header)), numbers, "xlsx", skipped
    except EhcpError:
        raise
    except Exception as exc:  # noqa: BLE001 - around openpyxl's row parser (see workbook.open_workbook)
        raise EhcpError(f"{file}: the Excel workbook is damaged or truncated: {why(exc)}") from None


def _looks_like_data(text: str) -> bool:
    """A header candidate that may be a child's data (a headerless file's first row): two digits
    together (IDs, dates), an e-mail address, a long value or a control character."""
    return len(text) > 40 or bool(re.search(r"\d\d|@", text)) or bool(CONTROL.search(text))


def shown_header(name, position: int | None = None) -> str:
    """A header cell as a message may show it: quoted when it looks like a header name, else only
    its position (a headerless extract's first row is a child's row: never echoed)."""
    text = str(name).strip()
    if not _looks_like_data(text):
        return repr(text)
    return f"(column {position}: a value, not a column name)" if position else "(a value, not a column name)"


def _found(header: list) -> str:
    """'found ...' for a message: the first header cells, or a note that the row looks like data."""
    cells = [str(h).strip() for h in header if str(h).strip()]
    if sum(_looks_like_data(c) for c in cells) >= 2:
        return f"{len(header)} cells that look like data, not column names: is the header row missing?"
    shown = ", ".join(shown_header(c) for c in cells[:12]) or "nothing"
    return shown + (", ..." if len(cells) > 12 else "")


def read_extract(path: Path | str, kind: str | None = None, profile: Profile | None = None) -> RawExtract:
    """Read a CSV or XLSX extract into canonical columns, reporting header problems all at once."""
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise EhcpError(f"{path}: no such file")
    canonical_names = {c for k in KINDS.values() for c in k.names}
    candidates, warnings = ([profile], []) if profile else _shipped_profiles()
    known_headers = canonical_names | {h for p in candidates for h in p.columns}
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        header, columns, numbers, encoding, skipped = _read_xlsx(path, file, known_headers)
    elif path.suffix.lower() in (".csv", ".txt"):
        header, columns, numbers, encoding, skipped = _read_csv(path, file, known_headers)
    else:
        raise EhcpError(f"{file}: unsupported file type {path.suffix or '(none)'}; give a .csv or .xlsx extract")

    notes: list[str] = [skipped.describe(file)] if skipped else []
    if profile is None:
        profile = _detect_profile(file, header, kind, candidates, canonical_names, notes)
    mapping = dict(profile.columns) if profile else {}
    names: list[str | None] = []
    seen: dict[str, str] = {}
    unknown: list[str] = []
    for raw_name in header:
        source = str(raw_name).strip()
        key = source.lower()
        canonical = mapping.get(key) or (key if key in canonical_names else None)
        if canonical is None:
            if source:
                unknown.append(source)
            names.append(None)
            continue
        if canonical in seen:
            raise EhcpError(f"{file}: columns {seen[canonical]!r} and {source!r} both give {canonical}")
        seen[canonical] = source
        names.append(canonical)

    warnings += unknown_columns_warning(file, unknown)
    detected = profile.kind if profile and profile.kind else None
    if kind is None:
        kind = detected or ("assessments" if "request_id" in seen else "reviews" if "review_id" in seen else None)
        if kind is None:
            raise EhcpError(f"{file}: cannot tell whether this is an assessments or a reviews extract: "
                            f"no request_id or review_id column (found {_found(header)}); give --kind or --profile")
    elif detected and detected != kind:
        raise EhcpError(f"{file}: --kind {kind} but profile {profile.name!r} is for {detected}")
    wanted = KINDS[kind]
    missing = [c.name for c in wanted.columns if c.required and c.name not in seen]
    if missing:
        other = "reviews" if kind == "assessments" else "assessments"
        hint = (f" (it looks like a {other} extract)"
                if KINDS[other].key in seen else " (use --profile if the system names columns its own way)")
        raise EhcpError(f"{file}: required column{'s' if len(missing) > 1 else ''} missing: "
                        f"{', '.join(missing)}{hint}")
    for name in list(seen):
        if name not in wanted.names:
            warnings.append(f"{file}: column {seen[name]!r} is not part of a {kind} extract and was ignored")

    keep = [i for i, n in enumerate(names) if n is not None and n in wanted.names]
    cells = pd.DataFrame({names[i]: pd.Series(columns[i], dtype=_cell_dtype(columns[i])) for i in keep})
    if profile:
        for column, value_map in profile.values.items():
            if column in cells:
                cells[column] = [value_map.get(str(v).strip().lower(), v) if v != "" else v
                                 for v in cells[column].astype(object)]
    if not len(numbers):
        raise EhcpError(f"{file}: the extract has a header but no data rows; nothing to import "
                        "(an empty extract would mark every case as missing)")
    return RawExtract(file, cells, pd.Series(numbers, dtype="int64"), kind, warnings, encoding, profile,
                      sources=seen, unknown=unknown, notes=notes, skipped=skipped)


def unknown_columns_warning(file: str, unknown: list[str], shown: int = 5) -> list[str]:
    """Unrecognised headers as warnings: one each for a few, one line with a count for many (a
    spreadsheet with 20,000 stray columns must not bury the summary)."""
    if len(unknown) <= shown:
        return [f"{file}: column {shown_header(name)} is not recognised and was ignored" for name in unknown]
    if sum(_looks_like_data(name) for name in unknown[:shown]) >= 2:  # a headerless file's first row: a child's
        return [f"{file}: {len(unknown)} columns are not recognised and were ignored (their names look like "
                "data: is the header row missing?)"]
    listed = ", ".join(shown_header(name) for name in unknown[:shown])
    return [f"{file}: {len(unknown)} columns are not recognised and were ignored ({listed}, ...)"]


def _shipped_profiles() -> tuple[list[Profile], list[str]]:
    """Every profile on the search path (a broken one is skipped with a warning)."""
    found, warnings = [], []
    for name in available_profiles():
        try:
            found.append(load_profile(name))
        except EhcpError as exc:
            warnings.append(f"profile {name!r} skipped: {str(exc).splitlines()[0]}")
    return found, warnings


def _detect_profile(file: str, header: list, kind: str | None, candidates: list[Profile],
                    canonical_names: set[str], notes: list[str]) -> Profile | None:
    """No --profile: canonical headers need none; otherwise the one profile that fits the header
    (which ``notes`` records: information, not a warning)."""
    present = {str(h).strip().lower() for h in header if str(h).strip()}
    if present & {k.key for k in KINDS.values()}:
        return None  # canonical column names: no profile needed
    fits = []
    for candidate in candidates:
        kinds = [candidate.kind] if candidate.kind else list(KINDS)
        if kind:
            kinds = [k for k in kinds if k == kind]
        given = {candidate.columns.get(h, h) for h in present}
        if any(all(c.name in given for c in KINDS[k].columns if c.required) for k in kinds):
            fits.append(candidate)
    if len(fits) == 1:
        notes.append(f"{file}: using profile {fits[0].name!r} (its columns match the header)")
        return fits[0]
    found = _found(header)
    if len(fits) > 1:
        raise EhcpError(f"{file}: the header fits several profiles ({', '.join(p.name for p in fits)}); "
                        "choose one with --profile")
    if len(present & canonical_names) >= 2:
        return None  # canonical names, just not enough of them: the required-column check says which
    known = ", ".join(p.name for p in candidates) or "none"
    raise EhcpError(f"{file}: the header matches no profile and has no request_id or review_id column "
                    f"(found {found}; profiles: {known}); "
                    "give --profile, or add a profile for this system (see docs/profiles.md)")


def _cell_dtype(column) -> object:
    """Raw cells stay as read: the fast CSV reader's categories, otherwise plain objects."""
    return column.dtype if isinstance(column, pd.Categorical) else object
