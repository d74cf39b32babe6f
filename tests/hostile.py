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
    }
    return cases


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    return buffer.getvalue()
