"""The row digest: what tells a re-import, without reading the stored row, that tonight's row is unchanged.

A digest is a function of the row's canonical text, its key aside (it is compared only with
the stored digest of the same key) (``importer.comparable``: dates ISO, flags
yes/no, numbers as whole numbers, blank as ""), so two rows get the same digest exactly when the
field-by-field comparison finds them equal (up to a 2**-128 chance).

Version 2 (``DIGEST_PERSON``) hashes each column's distinct cells, not each row: a million rows
hold a few thousand distinct dates and codes, so the hashing is done a few thousand times, and the
rows are put together by numpy. Each distinct cell is hashed with its column's name (blake2b, 16
bytes, personalised), and a row's digest is the sum, modulo 2**64 in each half, of its cells'
hashes: order-free, since the name is in each hash (a value moved to another column changes the
digest), and a column added to the extract adds a term to every row (every digest changes, and the
next import compares field by field, as for any digest made another way). Version 1 hashed the
whole packed row per row (1M rows: 2.8 s of CPU, and 3.2 s more to write the text it hashed);
stored digests of version 1 never match version 2, so the first import after the change compares
every row field by field once and stores the new digests, logging no change.

Stable across Python, numpy and pandas versions and across runs: hashlib's blake2b and integer
addition, never Python's ``hash`` nor a library's row hash.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..schema import Kind

# blake2b's personalisation: a new canonical form or packing gets a new one, so old digests never match
DIGEST_PERSON = b"ehcp-row-v2"
_UNIT = b"\x1f"
_NAT = np.datetime64("NaT", "D").view(np.int64)


def cell_hashes(name: str, texts) -> np.ndarray:
    """The two 64-bit halves of each distinct canonical text's hash in column ``name``, shape (n, 2)."""
    prefix = hashlib.blake2b(name.encode("utf-8") + _UNIT, digest_size=16, person=DIGEST_PERSON).copy
    out = bytearray()
    for text in texts:
        state = prefix()
        state.update(text.encode("utf-8"))
        out += state.digest()
    return np.frombuffer(bytes(out), dtype=">u8").astype(np.uint64).reshape(-1, 2)


def canonical_codes(values: pd.Series, column) -> tuple[np.ndarray, list[str]]:
    """Each row's code into the column's distinct canonical texts, and those texts (as
    ``importer.comparable`` writes a cell), worked out once per distinct value."""
    if column.type == "date":
        codes, uniques = pd.factorize(values.to_numpy(dtype="datetime64[D]").view(np.int64), use_na_sentinel=False)
        return codes, ["" if day == _NAT else str(np.datetime64(int(day), "D")) for day in uniques]
    if column.type == "flag":
        codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
        texts = [{True: "yes", False: "no"}.get(v, "") for v in uniques]
    elif column.type == "int":
        codes, uniques = pd.factorize(pd.array(values, dtype="Int64").to_numpy(dtype=object, na_value=None),
                                      use_na_sentinel=True)
        texts = ["" if pd.isna(v) else str(int(v)) for v in uniques]
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        texts = [str(v) for v in np.asarray(uniques, dtype=object)]
    return np.where(codes < 0, len(texts), codes), texts + [""]  # a blank cell: the last text


def digests_of_columns(columns: list[tuple[str, np.ndarray, list[str]]], rows: int) -> np.ndarray:
    """Row digests (32 hex characters, object array) from each column's (name, codes, distinct texts)."""
    total = np.zeros((rows, 2), dtype=np.uint64)
    for name, codes, texts in columns:
        total += cell_hashes(name, texts)[codes]  # uint64 addition wraps: modulo 2**64
    hexed = total.astype(">u8").tobytes().hex()
    out = np.empty(rows, dtype=object)
    out[:] = [hexed[i:i + 32] for i in range(0, 32 * rows, 32)]
    return out


def _digested(kind: Kind) -> list:
    """The columns a digest covers: all but the key. A digest is only ever compared with the stored
    digest of the same key, so the key is equal by construction; it is the costliest column to hash
    (a distinct value a row)."""
    return [c for c in kind.columns if c.name != kind.key]


def digests_of(frame: pd.DataFrame, kind: Kind) -> np.ndarray:
    """The digest of every row of a typed frame (as ``validate`` makes and ``db.load_cases`` reads)."""
    return digests_of_columns([(c.name, *canonical_codes(frame[c.name], c)) for c in _digested(kind)], len(frame))


def digests_of_text(text: pd.DataFrame, kind: Kind) -> np.ndarray:
    """The same digests from rows already in canonical text (``importer.comparable``)."""
    columns = []
    for c in _digested(kind):
        codes, uniques = pd.factorize(text[c.name].to_numpy(dtype=object), use_na_sentinel=False)
        columns.append((c.name, codes, [str(u) for u in uniques]))
    return digests_of_columns(columns, len(text))
