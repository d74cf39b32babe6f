"""The synthetic extract generator: determinism, import invariants, realism, the committed sample."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ehcp_tracker.demo import synthetic as S

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
END = dt.date(2026, 10, 30)
N = 20_000

EXC_20W = {"school_closure", "early_years_closure", "personal_circumstances", "absence_from_area"}
EXC_ADVICE = {"personal_circumstances", "absence_from_area", "missed_appointment"}
ASSESSMENT_DATES = [c for c in S.ASSESSMENT_COLUMNS if c in S._DATE_COLUMNS]
REVIEW_DATES = [c for c in S.REVIEW_COLUMNS if c in S._DATE_COLUMNS]


# --------------------------------------------------------------------------- helpers


def _dates(frame: pd.DataFrame, columns) -> pd.DataFrame:
    out = frame.copy()
    for c in columns:
        out[c] = pd.to_datetime(out[c].astype(object).where(out[c].notna(), None), format="ISO8601")
    return out


def _read_csv(path: Path, date_columns) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    frame = frame.replace("", None)
    return _dates(frame, date_columns)


def _le(a: pd.Series, b: pd.Series) -> pd.Series:
    """a <= b wherever both are present."""
    return a.isna() | b.isna() | (a <= b)


def _ok(mask: pd.Series, frame: pd.DataFrame, key: str, what: str) -> None:
    bad = frame.loc[~mask.to_numpy(), key].tolist()
    assert not bad, f"{what}: {len(bad)} rows, e.g. {bad[:5]}"


def check_assessments(frame: pd.DataFrame, end: dt.date, allow_coronavirus: bool = False) -> None:
    """Every invariant the importer enforces, vectorised. Dates already parsed."""
    f = frame
    key = "request_id"
    endts = pd.Timestamp(end)
    assert list(f.columns) == S.ASSESSMENT_COLUMNS
    assert f[key].is_unique
    assert f[key].str.fullmatch(r"R\d{7,}").all()
    assert f["person_id"].str.fullmatch(r"P\d{7}").all()
    assert f["request_received"].notna().all()
    for c in ASSESSMENT_DATES:
        _ok(_le(f[c], pd.Series(endts, index=f.index)), f, key, f"{c} after end")
        _ok(_le(f["request_received"], f[c]), f, key, f"{c} before request_received")
    ro = f["request_outcome"]
    assert ro.dropna().isin({"assess", "not_assess", "withdrawn"}).all()
    _ok(ro.notna() == f["request_outcome_date"].notna(), f, key, "request_outcome iff date")
    assess = ro == "assess"
    for s in S.SERVICES:
        req, rec = f[f"{s}_advice_requested"], f[f"{s}_advice_received"]
        _ok(req.isna() | assess, f, key, f"{s} requested without assess")
        _ok(_le(f["request_outcome_date"], req), f, key, f"{s} requested before decision")
        _ok(rec.isna() | req.notna(), f, key, f"{s} received without request")
        _ok(_le(req, rec), f, key, f"{s} received before requested")
        exc = f[f"{s}_advice_exception"]
        assert exc.dropna().isin(EXC_ADVICE).all()
        _ok(exc.isna() | req.notna(), f, key, f"{s} exception without request")
    ao, aod = f["assessment_outcome"], f["assessment_outcome_date"]
    assert ao.dropna().isin({"issue", "not_issue"}).all()
    _ok(ao.isna() | assess, f, key, "assessment outcome without assess")
    _ok(ao.notna() == aod.notna(), f, key, "assessment outcome iff date")
    _ok(_le(f["request_outcome_date"], aod), f, key, "assessment outcome before decision")
    draft, final = f["draft_plan_issued"], f["final_plan_issued"]
    issue = ao == "issue"
    _ok((draft.isna() & final.isna()) | issue, f, key, "plan without issue")
    _ok(_le(draft, final), f, key, "final before draft")
    _ok(_le(f["request_outcome_date"], draft), f, key, "draft before decision")
    _ok(_le(aod, final), f, key, "final before assessment outcome")
    codes = EXC_20W | ({"coronavirus"} if allow_coronavirus else set())
    assert f["exception_reason"].dropna().isin(codes).all()
    assert f["decision_exception"].dropna().isin(EXC_20W).all()
    corona = f["exception_reason"] == "coronavirus"
    _ok(~corona | (f["request_received"].dt.year.isin([2019, 2020])), f, key, "coronavirus outside 2020")
    closed = f["closed_date"]
    _ok(closed.isna() == f["closed_reason"].isna(), f, key, "closed_date iff closed_reason")
    assert f["closed_reason"].dropna().isin(S.CLOSED_REASONS).all()
    for c in ASSESSMENT_DATES:
        _ok(_le(f[c], closed), f, key, f"{c} after closed_date")
    for flag in S.FLAGS:
        assert f[flag].isin({"yes", "no"}).all()


def check_reviews(frame: pd.DataFrame, end: dt.date) -> None:
    f = frame
    key = "review_id"
    endts = pd.Timestamp(end)
    assert list(f.columns) == S.REVIEW_COLUMNS
    assert f[key].is_unique
    assert f[key].str.fullmatch(r"AR\d{7,}").all()
    assert f["person_id"].str.fullmatch(r"P\d{7}").all()
    for c in REVIEW_DATES:
        _ok(_le(f[c], pd.Series(endts, index=f.index)), f, key, f"{c} after end")
    plan, last = f["plan_issued"], f["last_review"]
    assert plan.notna().all()
    _ok(last.isna() | (last > plan), f, key, "last_review not after plan_issued")
    meeting = f["review_meeting"]
    anchor = last.fillna(plan)
    _ok(_le(anchor, meeting), f, key, "meeting before the cycle start")
    notified = f["decision_notified"]
    _ok(notified.isna() | meeting.notna(), f, key, "decision without meeting")
    _ok(_le(meeting, notified), f, key, "decision before meeting")
    dec = f["decision"]
    assert dec.dropna().isin({"maintain", "amend", "cease"}).all()
    _ok(dec.isna() | notified.notna(), f, key, "decision without date")
    notice = f["amendment_notice_sent"]
    _ok(notice.isna() | (dec == "amend"), f, key, "notice without amend")
    _ok(_le(meeting, notice), f, key, "notice before meeting")
    amended = f["amended_plan_issued"]
    _ok(amended.isna() | notice.notna(), f, key, "amended plan without notice")
    _ok(_le(notice, amended), f, key, "amended plan before notice")
    _ok(f["ceased_date"].isna() | (dec == "cease"), f, key, "ceased without cease")
    _ok(_le(notified, f["ceased_date"]), f, key, "ceased before decision")
    pt = f["phase_transfer"]
    assert pt.dropna().isin({"none", "school", "post16", "post16_move"}).all()
    _ok(f["transfer_date"].isna() | (pt == "post16_move"), f, key, "transfer_date without post16_move")
    ncy = pd.to_numeric(f["ncy"])
    assert ncy.dropna().between(-1, 14).all()
    assert (ncy.dropna() == ncy.dropna().round()).all()
    _ok(ncy.notna() | f["date_of_birth"].notna(), f, key, "neither ncy nor date_of_birth")
    assert f["exception_reason"].dropna().isin(EXC_20W).all()
    for flag in S.FLAGS:
        assert f[flag].isin({"yes", "no"}).all()


@pytest.fixture(scope="module")
def assessments() -> pd.DataFrame:
    return _dates(S.generate_assessments(N, 11, END), ASSESSMENT_DATES)


@pytest.fixture(scope="module")
def reviews() -> pd.DataFrame:
    return _dates(S.generate_reviews(N, 11, END), REVIEW_DATES)


# --------------------------------------------------------------------------- determinism, API


def test_same_seed_same_rows():
    a1 = S.generate_assessments(3000, 5, END)
    a2 = S.generate_assessments(3000, 5, END)
    pd.testing.assert_frame_equal(a1, a2)
    r1 = S.generate_reviews(2000, 5, END)
    pd.testing.assert_frame_equal(r1, S.generate_reviews(2000, 5, END))
    assert not a1.equals(S.generate_assessments(3000, 6, END))


def test_frame_types():
    a = S.generate_assessments(500, 3, END)
    assert list(a.columns) == S.ASSESSMENT_COLUMNS
    dates = a["final_plan_issued"].dropna()
    assert len(dates) and all(type(d) is dt.date for d in dates)
    assert a["final_plan_issued"].isna().any()
    assert all(v is None for v in a.loc[a["final_plan_issued"].isna(), "final_plan_issued"])
    assert all(v is None or isinstance(v, str) for v in a["exception_reason"])
    assert None in set(a["assessment_outcome"])
    r = S.generate_reviews(500, 3, END)
    assert list(r.columns) == S.REVIEW_COLUMNS
    assert str(r["ncy"].dtype) == "Int64"


def test_empty_and_tiny():
    assert len(S.generate_assessments(0, 1, END)) == 0
    assert len(S.generate_reviews(0, 1, END)) == 0
    check_assessments(_dates(S.generate_assessments(1, 1, END), ASSESSMENT_DATES), END)
    check_reviews(_dates(S.generate_reviews(1, 1, END), REVIEW_DATES), END)


# --------------------------------------------------------------------------- invariants


def test_assessment_invariants(assessments):
    check_assessments(assessments, END)


def test_review_invariants(reviews):
    check_reviews(reviews, END)


@pytest.mark.parametrize("end,years", [(dt.date(2021, 3, 1), 1.0), (dt.date(2030, 8, 31), 5.0)])
def test_invariants_other_dates(end, years):
    a = S.generate_assessments(5000, 2, end, years=years)
    a = _dates(a, ASSESSMENT_DATES)
    check_assessments(a, end)
    assert a["request_received"].min() >= pd.Timestamp(end) - pd.Timedelta(days=round(years * 365.25))
    check_reviews(_dates(S.generate_reviews(3000, 2, end), REVIEW_DATES), end)


# --------------------------------------------------------------------------- realism


def test_outcome_mix(assessments):
    share = assessments["request_outcome"].value_counts(dropna=False, normalize=True)
    assert share["assess"] == pytest.approx(0.66, abs=0.03)
    assert share["not_assess"] == pytest.approx(0.27, abs=0.03)
    assert share["withdrawn"] == pytest.approx(0.01, abs=0.006)
    assert share[None] == pytest.approx(0.07, abs=0.02)
    # undecided requests are the recent ones (plus a few stuck)
    undecided = assessments.loc[assessments["request_outcome"].isna(), "request_received"]
    assert (undecided > pd.Timestamp(END) - pd.Timedelta(days=84)).mean() > 0.6
    f = assessments
    days = (f["request_outcome_date"] - f["request_received"]).dt.days.dropna()
    assert (days <= 42).mean() == pytest.approx(0.87, abs=0.03)
    done = f["assessment_outcome"].dropna()
    assert (done == "not_issue").mean() == pytest.approx(0.10, abs=0.02)


def test_time_to_issue_mix(assessments):
    f = assessments
    recent = f["final_plan_issued"] > pd.Timestamp(END) - pd.Timedelta(days=365)
    weeks = (f.loc[recent, "final_plan_issued"] - f.loc[recent, "request_received"]).dt.days
    assert (weeks <= 140).mean() == pytest.approx(0.46, abs=0.04)
    assert ((weeks > 140) & (weeks <= 364)).mean() == pytest.approx(0.44, abs=0.04)
    assert (weeks > 364).mean() == pytest.approx(0.10, abs=0.03)
    issued = f["final_plan_issued"].notna()
    assert f.loc[issued, "exception_reason"].notna().mean() == pytest.approx(0.07, abs=0.02)


def test_advice_and_flags(assessments):
    f = assessments
    for s in S.SERVICES:
        days = (f[f"{s}_advice_received"] - f[f"{s}_advice_requested"]).dt.days.dropna()
        assert 0.45 < (days <= 42).mean() < 0.95
        assert days.median() == pytest.approx(38, abs=10)
        assert f[f"{s}_advice_exception"].notna().any()
    for flag in S.FLAGS:
        assert 0.002 < (f[flag] == "yes").mean() < 0.2


def test_volumes_seasonal_and_growing():
    f = S.generate_assessments(50_000, 4, END)
    months = pd.to_datetime(f["request_received"]).dt.to_period("M").value_counts()
    august = months[[pd.Period("2025-08"), pd.Period("2026-08")]].mean()
    autumn = months[[pd.Period("2025-10"), pd.Period("2025-11")]].mean()
    assert august < 0.6 * autumn
    received = pd.to_datetime(f["request_received"])
    first = (received < pd.Timestamp("2025-10-31")).sum()
    assert len(f) - first > 1.03 * first


def test_caseworkers_and_teams(assessments):
    per_cw = assessments.groupby("caseworker").size()
    assert 70 <= len(per_cw) <= 130  # ~1 per 200 cases
    assert assessments["caseworker"].str.fullmatch(r"CW\d{3,}").all()
    assert set(assessments["team"]) == set(S.TEAMS)
    assert (assessments.groupby("caseworker")["team"].nunique() == 1).all()


def test_review_mix(reviews):
    f = reviews
    ncy = pd.to_numeric(f["ncy"]).dropna()
    assert set(ncy.astype(int)) == set(range(-1, 15))
    assert f["date_of_birth"].notna().mean() == pytest.approx(0.15, abs=0.03)
    days = (f["decision_notified"] - f["review_meeting"]).dt.days.dropna()
    assert (days <= 28).mean() == pytest.approx(0.48, abs=0.05)
    dec = f["decision"].value_counts(normalize=True)
    assert dec["amend"] > dec["maintain"] > dec["cease"] > 0.01
    assert (f["phase_transfer"] == "post16_move").sum() > 50
    assert f["last_review"].notna().mean() > 0.6
    # meeting held but no decision recorded, and late amended plans, both occur
    assert (f["review_meeting"].notna() & f["decision"].isna()).sum() > 100
    late = (f["amended_plan_issued"] - f["amendment_notice_sent"]).dt.days > 56
    assert late.sum() > 100


def test_review_history_rows(reviews):
    f = reviews
    rows = f.groupby("person_id").size()
    assert rows.max() == 2 and 0.2 < (rows == 2).mean() < 0.6
    twice = f[f["person_id"].isin(rows[rows == 2].index)].sort_values(["person_id", "review_id"])
    prev, cur = twice.iloc[::2].reset_index(drop=True), twice.iloc[1::2].reset_index(drop=True)
    assert (prev["person_id"] == cur["person_id"]).all()
    assert (prev["decision_notified"] == cur["last_review"]).all()
    assert (prev["decision"] != "cease").all()
    assert (prev["plan_issued"] == cur["plan_issued"]).all()
    assert (prev["caseworker"] == cur["caseworker"]).all()
    # a plan ceased at its previous review has no current row
    ceased_prev = f[(f["decision"] == "cease") & f["person_id"].isin(rows[rows == 1].index)]
    assert len(ceased_prev) > 0


def test_dob_matches_year_group():
    r = _dates(S.generate_reviews(5000, 9, END), REVIEW_DATES)
    anchor = r["last_review"].fillna(r["plan_issued"])
    due = anchor + pd.Timedelta(days=364)
    start = np.where(due.dt.month >= 9, due.dt.year, due.dt.year - 1)
    dob = r["date_of_birth"]
    has = dob.notna().to_numpy()
    born_year = np.where(dob.dt.month >= 9, dob.dt.year, dob.dt.year - 1)
    ncy = start - born_year - 5
    assert has.sum() > 300
    assert ((ncy[has] >= -1) & (ncy[has] <= 14)).all()


# --------------------------------------------------------------------------- files


def test_write_extracts_matches_frames(tmp_path):
    paths = S.write_extracts(tmp_path, 2500, 1800, 3, END)
    for kind, gen, cols in (("assessments", lambda: S.generate_assessments(2500, 3, END), ASSESSMENT_DATES),
                            ("reviews", lambda: S.generate_reviews(1800, 3, END), REVIEW_DATES)):
        text = paths[kind].read_text(encoding="utf-8")
        ref = tmp_path / f"ref_{kind}.csv"
        S._frame_csv(gen(), ref)
        assert text == ref.read_text(encoding="utf-8")
        assert "NaT" not in text and "None" not in text and "nan" not in text
    check_assessments(_read_csv(paths["assessments"], ASSESSMENT_DATES), END)
    check_reviews(_read_csv(paths["reviews"], REVIEW_DATES), END)


def test_command_line(tmp_path):
    rc = S.main(["--requests", "300", "--reviews", "200", "--seed", "4", "--output", str(tmp_path),
                 "--end", "2026-01-31"])
    assert rc == 0
    a = _read_csv(tmp_path / "assessments.csv", ASSESSMENT_DATES)
    assert len(a) == 300
    check_assessments(a, dt.date(2026, 1, 31))
    assert len(_read_csv(tmp_path / "reviews.csv", REVIEW_DATES)) == 200
    assert S.main(["--requests", "3"]) == 2


def test_sample_matches_generator(tmp_path):
    fresh = S.write_sample_data(tmp_path)
    for name in ("assessments.csv", "reviews.csv"):
        committed = (SAMPLE / name).read_text(encoding="utf-8")
        assert committed == fresh[name.removesuffix(".csv")].read_text(encoding="utf-8"), (
            f"sample_data/{name} is stale: run python -m ehcp_tracker.demo.synthetic --sample-data sample_data")
    openpyxl = pytest.importorskip("openpyxl")
    old = openpyxl.load_workbook(SAMPLE / "assessments_council.xlsx")
    new = openpyxl.load_workbook(fresh["assessments_council"])
    old_rows = [[c.value for c in row] for row in old.active.iter_rows()]
    new_rows = [[c.value for c in row] for row in new.active.iter_rows()]
    assert old_rows == new_rows


def test_sample_valid_and_complete():
    a = _read_csv(SAMPLE / "assessments.csv", ASSESSMENT_DATES)
    r = _read_csv(SAMPLE / "reviews.csv", REVIEW_DATES)
    assert 380 <= len(a) <= 420 and 280 <= len(r) <= 320
    check_assessments(a, S.SAMPLE_END, allow_coronavirus=True)
    check_reviews(r, S.SAMPLE_END)
    edge_a = {row["request_id"] for row in S.EDGE_ASSESSMENTS}
    edge_r = {row["review_id"] for row in S.EDGE_REVIEWS}
    assert edge_a <= set(a["request_id"]) and edge_r <= set(r["review_id"])
    assert {i for i in a["request_id"] if i.startswith("R9")} == edge_a
    byid = a.set_index("request_id")

    def days(rid, col):
        return (byid.loc[rid, col] - byid.loc[rid, "request_received"]).days

    assert days("R9000001", "final_plan_issued") == 140
    assert days("R9000002", "final_plan_issued") == 141
    assert days("R9000001", "request_outcome_date") == 42
    assert days("R9000002", "request_outcome_date") == 43
    assert days("R9000012", "assessment_outcome_date") == 112
    assert days("R9000013", "assessment_outcome_date") == 113
    assert (byid.loc["R9000002", "ep_advice_received"] - byid.loc["R9000002", "ep_advice_requested"]).days == 43
    assert (pd.Timestamp(S.SAMPLE_END) - byid.loc["R9000027", "request_received"]).days == 140
    # every code on every clock it may apply to
    assert EXC_20W <= set(a["exception_reason"].dropna())
    for s in S.SERVICES[:3]:
        assert a[f"{s}_advice_exception"].notna().any()
    assert EXC_ADVICE <= set(pd.concat([a[f"{s}_advice_exception"] for s in S.SERVICES]).dropna())
    assert a["decision_exception"].notna().any()
    assert set(S.CLOSED_REASONS) <= set(a["closed_reason"].dropna())
    assert {"assess", "not_assess", "withdrawn"} <= set(a["request_outcome"].dropna())
    assert a["request_outcome"].isna().any()
    # reviews: year 6 and 11 in 2025/26 and 2026/27, every decision, post16_move, missing decisions
    assert {"maintain", "amend", "cease"} <= set(r["decision"].dropna())
    assert (r["phase_transfer"] == "post16_move").sum() >= 2
    assert (r["review_meeting"].notna() & r["decision"].isna()).any()
    byr = r.set_index("review_id")
    assert byr.loc["AR9000010", "ncy"] == "6" and byr.loc["AR9000014", "ncy"] == "6"
    assert byr.loc["AR9000012", "ncy"] == "11" and byr.loc["AR9000015", "ncy"] == "11"
    assert pd.isna(byr.loc["AR9000018", "ncy"]) and pd.notna(byr.loc["AR9000018", "date_of_birth"])


def test_council_workbook_matches_csv():
    openpyxl = pytest.importorskip("openpyxl")
    ws = openpyxl.load_workbook(SAMPLE / "assessments_council.xlsx").active
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    assert set(header) == set(S.COUNCIL_COLUMNS.values())
    csv = pd.read_csv(SAMPLE / "assessments.csv", dtype=str, keep_default_na=False)
    assert len(rows) - 1 == len(csv)
    back = {v: k for k, v in S.COUNCIL_COLUMNS.items()}
    reverse = {c: {v.lower(): k for k, v in m.items()} for c, m in S.COUNCIL_VALUES.items()}
    for i, row in enumerate(rows[1:]):
        for name, value in zip(header, row):
            col = back[name]
            expected = csv.at[i, col]
            if value is None:
                assert expected == "", (i, col)
            elif isinstance(value, dt.datetime):
                assert value.date().isoformat() == expected, (i, col)
            elif col in reverse and col not in ("closed_reason",):
                assert reverse[col][value.lower()] == expected, (i, col, value)
            elif col == "closed_reason":
                assert S.COUNCIL_VALUES[col][expected] == value
            else:
                assert str(value) == expected, (i, col)
    date_cells = [c for c in ws[2] if isinstance(c.value, dt.datetime)]
    assert date_cells and all(c.number_format == "dd/mm/yyyy" for c in date_cells)


def test_profile_maps_every_council_column():
    import tomllib

    profile = tomllib.loads((ROOT / "ehcp_tracker/ingest/profiles/example-system.toml").read_text("utf-8"))
    assert profile["profile"]["name"] == "example-system"
    assert profile["profile"]["kind"] == "assessments"
    columns = {k.lower(): v for k, v in profile["columns"].items()}
    for canonical, council in S.COUNCIL_COLUMNS.items():
        assert columns[council.lower()] == canonical
    from ehcp_tracker.ingest.extract import load_profile

    loaded = load_profile("example-system")  # the exception columns share one [value_maps] table
    for col in ("request_outcome", "assessment_outcome", "exception_reason", "decision_exception",
                "education_advice_exception"):
        for canonical, council in S.COUNCIL_VALUES.get(col, S.COUNCIL_VALUES["exception_reason"]).items():
            assert loaded.values[col][council.lower()] == canonical
