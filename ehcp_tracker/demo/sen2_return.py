"""``ehcp demo generate --format sen2``: the invented caseload as an SEN2 return (XML).

Why: a council trying the tool, and the round-trip tests, need a return that is realistic in form
without being anyone's. The caseload is the one ``--format csv`` writes (same seed, same children);
the export's timeliness modules (sen2/export.py) are written, and the items the tracker does not
hold are invented here: names from a short list, sex, ethnicity WBRI, a birth date that fits the
review row's year group, and a UPN of the invented LA 999 whose check letter is right.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import pandas as pd

from ..clocks.rules import RuleBook
from ..files import atomic_write
from ..sen2.check import upn_check_letter
from ..sen2.export import persons_from_cases
from ..sen2.structure import CENSUS_DATES, YEARS
from ..sen2.write import header_node, return_xml
from .synthetic import generate_assessments, generate_reviews

SURNAMES = ("Ashdown", "Birchwood", "Calloway", "Dunmore", "Ellery", "Fenwick", "Garside", "Holloway")
FORENAMES = ("Alex", "Billie", "Casey", "Dani", "Eden", "Frankie", "Gray", "Harley")
DEMO_LA = "999"  # no council has this code


def collection_year(end: dt.date) -> int:
    """The latest collection whose census date is on or before ``end``."""
    known = [y for y in YEARS if dt.date.fromisoformat(CENSUS_DATES[y]) <= end]
    if not known:
        from ..errors import EhcpError

        raise EhcpError(f"--end {end}: no SEN2 collection this tool writes has its census by then "
                        f"(first: {CENSUS_DATES[YEARS[0]]})")
    return known[-1]


def _upn(serial: int) -> str:
    body = f"{DEMO_LA}0000{serial % 100:02d}{serial // 100 % 1000:03d}"
    return upn_check_letter("X" + body) + body


def write_return(directory: Path, requests: int, reviews: int, seed: int, end: dt.date, book: RuleBook) -> Path:
    assessments = generate_assessments(requests, seed, end)
    review_rows = generate_reviews(reviews, seed, end)
    if "date_of_birth" in review_rows:  # a birth date fitting the year group: 1 December of the right year
        births = [dt.date(int(year) - int(ncy) - 5, 12, 1) if pd.notna(ncy) and pd.notna(year) and dob is None else dob
                  for ncy, year, dob in zip(review_rows["ncy"], review_rows["ncy_academic_year"],
                                            review_rows["date_of_birth"])]
        review_rows["date_of_birth"] = pd.Series(births, dtype=object)
    year = collection_year(end)
    exported = persons_from_cases(assessments, review_rows, book, year)
    for serial, person in enumerate(exported.persons, start=1):
        pick = int(hashlib.blake2b(str(serial).encode(), digest_size=4).hexdigest(), 16)
        person.fields = {"Surname": SURNAMES[pick % len(SURNAMES)], "Forename": FORENAMES[pick // 8 % len(FORENAMES)],
                         "PersonBirthDate": person.fields.get("PersonBirthDate") or dt.date(end.year - 8 - pick % 10, 3, 1).isoformat(),
                         "Sex": "MF"[pick % 2], "Ethnicity": "WBRI", "UPN": _upn(serial), **{
                             k: v for k, v in person.fields.items() if k != "PersonBirthDate"}}
    header = header_node(year, CENSUS_DATES[year], DEMO_LA, dt.datetime(end.year, end.month, end.day, 9, 0, 0))
    path = Path(directory) / f"sen2_{year}.xml"
    Path(directory).mkdir(parents=True, exist_ok=True)
    atomic_write(path, return_xml(year, header, exported.persons))
    return path
