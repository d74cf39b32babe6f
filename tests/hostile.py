"""Hostile workbooks, built byte by byte by the tests themselves (nothing large is kept on disk).

Each builder returns the bytes of an ``.xlsx``: a real minimal workbook (the parts Excel writes)
with one part replaced or a zip trick played, so a test can show the import refuses it in one line
and quickly. The zip bombs are small on disk; the refusals happen before anything is inflated.
"""

from __future__ import annotations

import functools
import io
import zipfile

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '</Types>')
ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
    'Target="worksheets/sheet1.xml"/></Relationships>')
SHEET_OPEN = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
              '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


HEADER_ROW = ('<row r="1">' + inline("A1", "request_id") + inline("B1", "person_id")
              + inline("C1", "request_received") + "</row>")
DATA_ROW = ('<row r="2">' + inline("A2", "R0001") + inline("B2", "P0001") + inline("C2", "2024-03-01") + "</row>")


def sheet(rows: str = HEADER_ROW + DATA_ROW, *, dimension: str | None = None, prolog: str = "") -> str:
    head = prolog + SHEET_OPEN if prolog else SHEET_OPEN
    if prolog:
        head = head.replace('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "", 1)
        head = '<?xml version="1.0" encoding="UTF-8"?>' + head
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return f"{head}{dim}<sheetData>{rows}</sheetData></worksheet>"


def workbook(sheet_xml: str | bytes | None = None, *, extra: dict[str, bytes | str] | None = None,
             drop: tuple[str, ...] = (), replace: dict[str, str | bytes] | None = None) -> bytes:
    """The bytes of a minimal workbook whose first sheet is ``sheet_xml``."""
    parts: dict[str, str | bytes] = {
        "[Content_Types].xml": CONTENT_TYPES, "_rels/.rels": ROOT_RELS, "xl/workbook.xml": WORKBOOK,
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS, "xl/worksheets/sheet1.xml": sheet_xml or sheet()}
    parts.update(replace or {})
    parts.update(extra or {})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            if name not in drop:
                archive.writestr(name, content)
    return buffer.getvalue()


def whitespace_bomb(megabytes: int = 24) -> bytes:
    """A sheet padded with ``megabytes`` MB of spaces: compresses about 1000 times."""
    padding = " " * (megabytes << 20)
    return workbook(sheet(HEADER_ROW + padding + DATA_ROW))


BILLION_LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
                  '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
                  '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>')
XXE = '<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'


@functools.cache
def hostile_workbooks() -> dict[str, bytes]:
    """Every hostile or damaged workbook the import must refuse in one line (name -> bytes)."""
    base = workbook()
    cases = {
        "a row numbered past Excel's last": workbook(sheet(HEADER_ROW + DATA_ROW.replace('r="2"', 'r="999999999"'))),
        "whitespace zip bomb": whitespace_bomb(),
        "billion laughs in the sheet": workbook(sheet(HEADER_ROW + '<row r="2">' + inline("A2", "&lol4;") + "</row>",
                                                      prolog=BILLION_LAUGHS)),
        "external entity in the sheet": workbook(sheet(HEADER_ROW + '<row r="2">' + inline("A2", "&xxe;") + "</row>",
                                                       prolog=XXE)),
        "external entity in the workbook part": workbook(replace={"xl/workbook.xml": XXE.join(
            ['<?xml version="1.0"?>', WORKBOOK.split("?>", 1)[1]])}),
        "sheet is not XML": workbook(b"\x00\x01garbage<<"),
        "sheet cut mid-tag": workbook(sheet()[:-40]),
        "shared string that does not exist": workbook(sheet(HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>99</v></c></row>')),
        "number cell holding text": workbook(sheet(HEADER_ROW + '<row r="2"><c r="A2" t="n"><v>abc</v></c></row>')),
        "bad cell reference": workbook(sheet(HEADER_ROW + '<row r="2"><c r="??" t="n"><v>1</v></c></row>')),
        "no workbook part": workbook(drop=("xl/workbook.xml",)),
        "no sheet part": workbook(drop=("xl/worksheets/sheet1.xml",)),
        "no content types": workbook(drop=("[Content_Types].xml",)),
        "workbook without sheets": workbook(replace={"xl/workbook.xml": WORKBOOK.replace(
            '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets>', "<sheets/>")}),
        "zip cut short": base[: len(base) // 2],
        "zip with its directory damaged": base[:-10] + b"\xff" * 10,
        "a zip of nothing": _empty_zip(),
        "too many parts": workbook(extra={f"xl/media/p{i}.bin": b"" for i in range(10_001)}),
        "shared strings inflated past the cells": inflated_shared_strings(),
        "shared strings inflated behind padded rows": inflated_shared_strings(padding_rows=120_000),
        "an inline string longer than Excel allows": workbook(sheet(
            HEADER_ROW + '<row r="2">' + inline("A2", "R" * 40_000) + "</row>")),
        "zip version field bit-flipped": flipped(base, b"PK\x01\x02", 6, 0xFF),
        "unknown compression method": flipped(base, b"PK\x01\x02", 10, 0x63),
        "encrypted member": flipped(base, b"PK\x01\x02", 8, 0x01),
    }
    return cases


SST_TYPE = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml")


def inflated_shared_strings(count: int = 200_000, padding_rows: int = 0) -> bytes:
    """A workbook whose shared-string table holds ``count`` unique strings behind two real rows (the
    45 MB workbook of issue 28 held 6 million behind 49); ``padding_rows`` empty rows make the sheet
    large enough to pass the directory's size check, so the strings must be counted."""
    strings = ["request_id", "person_id", "request_received"] + [f"S{i:07d}" for i in range(count)]
    table = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" '
             f'uniqueCount="{len(strings)}">' + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>")
    header = '<row r="1">' + "".join(f'<c r="{c}1" t="s"><v>{i}</v></c>' for i, c in enumerate("ABC")) + "</row>"
    padding = "".join(f'<row r="{n}" spans="1:3" ht="{n % 97}"/>' for n in range(3, 3 + padding_rows))
    return _with_shared_strings(sheet(header + DATA_ROW + padding), table)


def shared_string_extract(rows: int, unused: int = 0) -> bytes:
    """An honest workbook as Excel writes it: every text in the shared-string table, each row's
    request and person IDs unique (so the table is as large as the sheet allows); ``unused`` more
    strings that no cell refers to make it a dishonest one."""
    strings = ["request_id", "person_id", "request_received", "2024-03-01"]
    cells = ['<row r="1">' + "".join(f'<c r="{c}1" t="s"><v>{i}</v></c>' for i, c in enumerate("ABC")) + "</row>"]
    for n in range(2, rows + 2):
        strings += [f"R{n:07d}", f"P{n:07d}"]
        cells.append(f'<row r="{n}"><c r="A{n}" t="s"><v>{len(strings) - 2}</v></c>'
                     f'<c r="B{n}" t="s"><v>{len(strings) - 1}</v></c><c r="C{n}" t="s"><v>3</v></c></row>')
    strings += [f"U{n:07d}" for n in range(unused)]
    table = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             f'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" '
             f'uniqueCount="{len(strings)}">' + "".join(f"<si><t>{s}</t></si>" for s in strings) + "</sst>")
    return _with_shared_strings(sheet("".join(cells)), table)


def _with_shared_strings(sheet_xml: str, table: str) -> bytes:
    return workbook(sheet_xml, replace={
        "[Content_Types].xml": CONTENT_TYPES.replace(
            "</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_TYPE}"/></Types>'),
        "xl/_rels/workbook.xml.rels": WORKBOOK_RELS.replace("</Relationships>", (
            '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'sharedStrings" Target="sharedStrings.xml"/></Relationships>')),
        "xl/sharedStrings.xml": table})


def flipped(data: bytes, signature: bytes, offset: int, value: int) -> bytes:
    """``data`` with one byte of every ``signature`` record (a zip header) set to ``value``: the
    bit flips of a damaged copy, where the zip library raises its own errors."""
    out = bytearray(data)
    start = out.find(signature)
    while start != -1:
        out[start + offset] = value
        start = out.find(signature, start + 4)
    return bytes(out)


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    return buffer.getvalue()
