"""The common CSV extract read in bounded batches: memory follows the batch and the distinct cells,
not the file.

A nightly extract of a national caseload is a few hundred megabytes. Read whole, it was held four
times over at once (the bytes, the decoded text, pyarrow's table of strings, the columns made from
it: 1.3 GB for a million requests). Here the file is looked at twice, a block at a time:

1. :func:`scan` reads it in chunks to settle what the whole-file reader settled from the whole text:
   the encoding (UTF-8, with or without its marker, else Windows-1252), no NUL byte, and nothing
   the fast reader cannot number as the csv module does (a blank record before the end, a line end
   first, a quote never closed). Any doubt returns None, and the whole-file reader (the csv module,
   ``extract._read_csv``) reads the file and words the problem exactly as it always has.
2. :func:`file_pieces` cuts it at record ends, ``READ_BLOCK_BYTES`` at a time, and
   :func:`read_columns` parses each piece with pyarrow's C++ parser; each piece's columns are
   dictionary-encoded as they come, and the dictionaries are unified at the end, so every column arrives as a pandas ``Categorical`` (validation then works once per
   distinct cell) in first-seen order: the very columns the whole-file read gave.

The guards that need the whole column (month-first dates, duplicates, the shrink check) run after
the read on those compact columns, exactly as before: nothing is decided from one batch alone.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .edges import FOOTER_MAX_ROWS, Skipped, footer_count

UTF8_BOM = b"\xef\xbb\xbf"
# Bytes parsed at a time (pyarrow's block): a batch of some 40,000 rows of an assessments extract.
READ_BLOCK_BYTES = 1 << 24
SCAN_CHUNK_BYTES = 1 << 20  # the first look's chunk: a few of them (and their text) are all it holds
# How much of the file's start is decoded for the separator and the header (as the whole-file
# reader looks at its first 64 KiB).
HEAD_BYTES = 1 << 18  # 4 bytes a character at most: at least the 64 Ki characters the whole-file reader looks at
_LINE_ENDS = b"\r\n"
_LINE_END_CODES = frozenset(_LINE_ENDS)
_EMPTY_BYTES = b" \t\r\n\xef\xbb\xbf,;"  # what a file holding no header and no row is made of
# Two line ends in a row: a blank record, which the csv module skips but still counts. The fast
# reader cannot number rows that way, so such files take the csv-module path.
BLANK_RECORD = (b"\n\n", b"\n\r", b"\r\r")


@dataclass(frozen=True)
class Scan:
    """What the first look at a CSV file found (see the module docstring)."""

    encoding: str  # "utf-8-sig", "utf-8" or "windows-1252", as the whole-file reader names them
    start: int  # bytes of marker skipped
    end: int  # the offset after the last byte that is not a line end (trailing line ends dropped)
    head: str  # the decoded start of the file (separator and header)


def scan(path: Path, chunk_bytes: int = SCAN_CHUNK_BYTES) -> Scan | None:
    """The file's encoding and extent, if the streamed read can take it; None sends it to the
    whole-file reader (an empty file, a binary one, a NUL, bad text, anything unusual)."""
    utf8 = codecs.getincrementaldecoder("utf-8")("strict")
    utf8_ok, cp1252_ok, anything = True, True, False
    first_pair = None  # offset of the first blank record (two line ends in a row)
    end = 0  # offset after the last byte that is not a line end
    quotes = 0
    offset, previous = 0, b""
    with open(path, "rb") as handle:
        head = handle.read(max(HEAD_BYTES, 8))
        if not head:
            return None
        start = len(UTF8_BOM) if head.startswith(UTF8_BOM) else 0
        handle.seek(start)
        while chunk := handle.read(chunk_bytes):
            if b"\x00" in chunk:
                return None
            anything = anything or bool(chunk.translate(None, _EMPTY_BYTES))
            quotes += chunk.count(b'"')
            if first_pair is None:
                if previous + chunk[:1] in BLANK_RECORD:  # across the chunks' boundary
                    first_pair = offset - 1
                else:
                    found = [i for i in (chunk.find(p) for p in BLANK_RECORD) if i >= 0]
                    if found:
                        first_pair = offset + min(found)
            last = _last_content(chunk)
            if last:
                end = offset + last
            if utf8_ok:
                try:
                    utf8.decode(chunk)  # a chunk's text at a time (a character cut at its end waits for the next)
                except UnicodeDecodeError:
                    utf8_ok = False
            if not utf8_ok and cp1252_ok:
                try:
                    chunk.decode("cp1252")
                except UnicodeDecodeError:
                    cp1252_ok = False
            offset += len(chunk)
            previous = chunk[-1:]  # the last byte: a blank record may straddle two chunks
    if utf8_ok:
        try:
            utf8.decode(b"", final=True)
        except UnicodeDecodeError:
            utf8_ok = False
    if not anything or (not utf8_ok and (start or not cp1252_ok)):
        return None  # the whole-file reader refuses it, in its own words
    if end == 0 or head[start:start + 1] in (b"\r", b"\n") or quotes % 2:
        return None
    if first_pair is not None and first_pair + 1 < end:  # a blank record before the trailing line ends
        return None
    encoding = ("utf-8-sig" if start else "utf-8") if utf8_ok else "windows-1252"
    codec = "utf-8" if utf8_ok else "cp1252"
    text = head[start:].decode(codec, errors="ignore")  # a character cut at the end of the head is dropped
    return Scan(encoding, start, start + end, text)


def _last_content(chunk: bytes) -> int:
    """The offset after the chunk's last byte that is not a line end (0 if it holds none)."""
    at = len(chunk)
    while at and chunk[at - 1] in _LINE_END_CODES:
        at -= 1
    return at


def file_pieces(path: Path, found: Scan, block_bytes: int | None = None) -> Iterator[bytes]:
    """The file's records (marker and trailing line ends left out) in pieces of about ``block_bytes``
    (default :data:`READ_BLOCK_BYTES`), each ending at a record's end: a line end outside quotes
    (an even number of quote characters before it; a doubled quote inside a value counts two).

    Cut here rather than by pyarrow's streaming reader, which reads ahead as far as it likes (most
    of a file held at once, measured): a piece is parsed, encoded and let go before the next is read."""
    block = block_bytes or READ_BLOCK_BYTES
    with open(path, "rb") as handle:
        handle.seek(found.start)
        left, carry = found.end - found.start, b""
        while left > 0:
            chunk = handle.read(min(block, left))
            if not chunk:
                break
            left -= len(chunk)
            data = carry + chunk if carry else chunk
            if left <= 0:
                carry = data
                break
            cut = _record_end(data)
            if cut:
                yield data[:cut]
                carry = data[cut:]
            else:  # no record ends in it (a long quoted value): read on
                carry = data
        if carry:
            yield carry


def _record_end(data: bytes) -> int:
    """The offset after the last line end of ``data`` that ends a record (0 if none does); ``data``
    starts at a record's start."""
    at = data.rfind(b"\n")
    if at < 0:
        return 0
    quotes = data.count(b'"', 0, at)
    while quotes % 2:  # inside a quoted value: the line end before it, with the quotes between taken off
        before = data.rfind(b"\n", 0, at)
        if before < 0:
            return 0
        quotes -= data.count(b'"', before, at)
        at = before
    return at + 1


def read_columns(pieces: Iterable[bytes], header: list[str], separator: str, *,
                 encoding: str = "utf8") -> tuple[list, np.ndarray, Skipped] | None:
    """Every column of a headed CSV, given in pieces that end at a record's end (the first starting
    with the header), as a ``Categorical``, with the spreadsheet row numbers and the footer left
    out: what the csv-module path gives, each piece parsed by pyarrow's C++ parser and dictionary-
    encoded before the next. None (nothing decided) for anything that parser cannot read as the
    csv module does: a ragged row, a parse error, a first row other than ``header``, no pyarrow."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow comes with pandas' recommended installs
        return None
    names = [f"c{i}" for i in range(len(header))]
    chunks: list[list] = [[] for _ in names]  # per column, each piece's cells as codes into its own distinct values
    options = dict(
        read_options=pacsv.ReadOptions(column_names=names, encoding=encoding),
        parse_options=pacsv.ParseOptions(delimiter=separator, newlines_in_values=True, ignore_empty_lines=False),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                             strings_can_be_null=False, quoted_strings_can_be_null=False))
    first = True
    try:
        for piece in pieces:
            table = pacsv.read_csv(io.BytesIO(piece), **options)
            del piece
            if first:
                if table.num_rows < 1 or [table.column(i)[0].as_py() for i in range(len(names))] != header:
                    return None
                table, first = table.slice(1), False
            if table.num_rows:
                for i in range(len(names)):
                    chunks[i].append(table.column(i).combine_chunks().dictionary_encode())
            del table
    except (pa.ArrowInvalid, pa.ArrowException, ValueError):
        return None
    if first:  # not even the header row
        return None
    return _categoricals(chunks)


def _categoricals(chunks: list[list]) -> tuple[list, np.ndarray, Skipped]:
    """Each column's batches as one ``Categorical``: the batches' dictionaries unified (first-seen
    order, as one dictionary encoding of the whole column gives), a column at a time so that only
    one column is ever held twice."""
    import pyarrow as pa

    width = len(chunks)
    rows = sum(len(c) for c in chunks[0]) if width else 0
    columns, blank = [], np.ones(rows, dtype=bool)
    for i in range(width):
        if chunks[i]:
            unified = pa.table({"c": pa.chunked_array(chunks[i])}).unify_dictionaries().column(0).chunks
            chunks[i] = None  # this column's batches go as it is converted
            uniques = np.asarray(unified[0].dictionary.to_numpy(zero_copy_only=False), dtype=object)
            codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in unified])
            del unified
        else:
            codes, uniques = np.empty(0, dtype=np.int32), np.empty(0, dtype=object)
        if blank.any():
            blank &= np.fromiter((not u.strip() for u in uniques), dtype=bool, count=len(uniques))[codes]
        columns.append(pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(uniques, dtype=object)),
                                                 validate=False))
    numbers = np.arange(2, rows + 2, dtype=np.int64)
    if blank.any():  # records of empty cells only (",,,"), skipped as the csv-module path skips them
        keep = ~blank
        columns = [c[keep] for c in columns]
        numbers = numbers[keep]
    skipped = Skipped()
    last = [[str(c[i]) for c in columns] for i in range(max(0, len(numbers) - FOOTER_MAX_ROWS), len(numbers))]
    footer = footer_count(last, width)
    if footer:  # a footer as wide as the header ("Total records: 3000,,,"); a narrower one took the csv path
        skipped.footer = [int(n) for n in numbers[len(numbers) - footer:]]
        columns = [c[: len(numbers) - footer] for c in columns]
        numbers = numbers[: len(numbers) - footer]
    return columns, numbers, skipped

