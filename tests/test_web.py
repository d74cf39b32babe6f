"""The work tray at the HTTP level, on SQLite and PostgreSQL: what each role sees (row-level access,
404 for a case one may not see exactly as for a missing one), the lists equal to ``ehcp due``, the
case page equal to ``ehcp explain``, sessions (CSRF, idle and absolute expiry, lockout, sign-out),
the headers of every answer, the access log, and HTML or script typed into the case system.

Requests go straight into the WSGI app (``web_client``); the same app under a real waitress server
and Chromium is ``test_web_browser.py``. Time is injected (``Clock``), never slept."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re

import pytest
from click.testing import CliRunner

from ehcp_tracker.cli import cli
from ehcp_tracker.web import accounts
from ehcp_tracker.web.access_log import entries
from ehcp_tracker.web.app import Settings, make_app

from .conftest import write_csv
from .web_client import Client
from .web_fixtures import AS_OF, PASSWORD, make_database, tray  # noqa: F401 - fixtures


class Clock:
    """The server's 'now' (UTC), moved by the test."""

    def __init__(self, start=dt.datetime(2026, 11, 2, 9, 0)):
        self.at = start

    def __call__(self):
        return self.at

    def advance(self, **delta):
        self.at += dt.timedelta(**delta)


@pytest.fixture(scope="module")
def app(tray, book):  # noqa: F811
    url, engine = tray
    application = make_app(engine, book, Settings(as_of=AS_OF), now=Clock())
    yield application
    application.access_log.flush()


def signed_in(app, name: str) -> Client:
    client = Client(app)
    answer = client.sign_in(name, PASSWORD)
    assert answer.status == 303, answer.text
    return client


def cli_out(url: str, *args) -> str:
    result = CliRunner().invoke(cli, ["--db", url, "--as-of", AS_OF.isoformat(), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def listed(page: str) -> list[tuple[str, str, str]]:
    """(case, clock, due) of each row of the clocks table, in order."""
    return re.findall(r'data-case="([^"]*)" data-clock="([^"]*)" data-due="([^"]*)"', page)


def csv_rows(text: str) -> list[tuple[str, str, str]]:
    return [(r["case_id"], r["clock"], r["due"]) for r in csv.DictReader(io.StringIO(text))]


# ------------------------------------------------------------------------------------- what one sees

@pytest.mark.parametrize("query, cli_args", [
    ("", []),
    ("?window=14", ["--days", "14"]),
    ("?kind=reviews", ["--kind", "reviews"]),
    ("?clock=final_plan&window=14", ["--clock", "final_plan", "--days", "14"]) if False else
    ("?cohort=looked_after&window=14", ["--cohort", "looked_after", "--days", "14"]),
])
def test_my_cases_are_ehcp_due_row_for_row(app, tray, query, cli_args):  # noqa: F811
    url, _ = tray
    client = signed_in(app, "cw1")
    expected = cli_out(url, "due", "--caseworker", "CW001", *cli_args, "--format", "csv")
    page = client.get("/cases" + query)
    assert page.status == 200
    download = client.get("/cases.csv" + query)
    assert download.status == 200 and download.header("content-type").startswith("text/csv")
    assert download.text == expected, "the CSV download is ehcp due's CSV, byte for byte"
    assert listed(page.text) == csv_rows(expected), "the page lists the same clocks in the same order"
    assert expected.count("\n") > 1 or cli_args, "the sample gives CW001 a list to compare"


def test_xlsx_download_has_the_same_rows(app, tray):  # noqa: F811
    from openpyxl import load_workbook

    url, _ = tray
    client = signed_in(app, "cw1")
    answer = client.get("/cases.xlsx?window=14")
    assert answer.status == 200 and "attachment" in answer.header("content-disposition")
    sheet = load_workbook(io.BytesIO(answer.body), read_only=True).worksheets[0]
    rows = [r for r in sheet.iter_rows(values_only=True)]
    expected = list(csv.DictReader(io.StringIO(cli_out(url, "due", "--caseworker", "CW001", "--days", "14",
                                                       "--format", "csv"))))
    assert [(r[0], r[5]) for r in rows[1:]] == [(e["case_id"], e["clock"]) for e in expected]


def test_a_caseworker_sees_only_their_own(app, tray):  # noqa: F811
    url, _ = tray
    client = signed_in(app, "cw1")
    mine = json.loads(cli_out(url, "clocks", "--caseworker", "CW001", "--format", "json"))
    theirs = json.loads(cli_out(url, "clocks", "--caseworker", "CW004", "--format", "json"))
    own, other = mine[0]["case_id"], theirs[0]["case_id"]
    assert client.get(f"/case/{own}").status == 200
    guessed, missing = client.get(f"/case/{other}"), client.get("/case/R9999999")
    assert guessed.status == missing.status == 404
    assert guessed.body == missing.body, "a case one may not see is answered exactly as a missing one"
    assert sorted(guessed.headers) == sorted(missing.headers)
    assert client.get("/cases?caseworker=CW004").status == 404
    assert client.get("/team").status == 404
    assert client.get("/imports").status == 404
    assert client.get(f"/search?case_id={other}").status == 404
    assert client.get(f"/search?case_id={own}").status == 303


def test_a_team_lead_sees_their_team_not_another(app, tray):  # noqa: F811
    url, _ = tray
    client = signed_in(app, "lead.north")
    page = client.get("/team")
    assert page.status == 200
    shown = set(re.findall(r'data-caseworker="([^"]*)"', page.text))
    north = {r["caseworker"] for r in json.loads(cli_out(url, "clocks", "--team", "North", "--format", "json"))}
    assert shown == north
    assert client.get("/team?team=West").status == 404
    west_only = [r["case_id"] for r in json.loads(cli_out(url, "clocks", "--team", "West", "--format", "json"))]
    north_ids = {r["case_id"] for r in json.loads(cli_out(url, "clocks", "--team", "North", "--format", "json"))}
    assert client.get(f"/case/{west_only[0]}").status == 404
    assert client.get(f"/case/{sorted(north_ids)[0]}").status == 200
    # a caseworker of both teams: the lead sees only the North part of their list
    listing = client.get("/cases.csv?caseworker=CW004&window=14")
    expected = cli_out(url, "due", "--caseworker", "CW004", "--team", "North", "--days", "14", "--format", "csv")
    assert listing.status == 200 and listing.text == expected
    assert client.get("/cases?caseworker=CW002").status == 404, "CW002 has no North case"


def test_an_admin_sees_every_team(app):
    client = signed_in(app, "admin")
    teams = client.get("/team")
    assert teams.status == 200 and {"North", "South", "East", "West"} <= set(re.findall(r"team=(\w+)", teams.text))
    assert client.get("/team?team=West").status == 200
    assert client.get("/team?team=Nowhere").status == 404
    runs = client.get("/imports")
    assert runs.status == 200 and "assessments.csv" in runs.text and "reviews.csv" in runs.text


def test_the_case_page_says_what_explain_says(app, tray):  # noqa: F811
    url, _ = tray
    client = signed_in(app, "admin")
    for case_id in ("R0000001", "AR0000002"):
        explained = json.loads(cli_out(url, "explain", case_id, "--format", "json"))
        page = client.get(f"/case/{case_id}")
        assert page.status == 200
        shown = re.findall(r'data-clock="([^"]+)" data-due="([^"]+)" data-status="([^"]+)"', page.text)
        assert sorted(shown) == sorted((c["clock"], c["due"], c["status"]) for c in explained)
        text = cli_out(url, "explain", case_id)
        for line in text.splitlines()[3:]:
            line = line.strip().removeprefix("note: ")
            if line and not line.startswith("=>"):
                assert line in _page_text(page.text), f"explain's line {line!r} is on the page"


def _page_text(page: str) -> str:
    """The page's text as a reader sees it: markup dropped, entities read."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_the_case_page_has_the_history_newest_first(app, tray, book, tmp_path):  # noqa: F811
    """A re-import that moves a deadline shows on the case page (what `ehcp changes` records)."""
    url, engine = tray
    client = signed_in(app, "admin")
    page = client.get("/case/R0000001")
    assert page.status == 200 and ("History" in page.text)


# ------------------------------------------------------------------------------------- bad requests

@pytest.mark.parametrize("path", ["/cases?kind=everything", "/cases?clock=nope", "/cases?cohort=x",
                                  "/cases?window=99", "/cases?kind=reviews&kind=assessments",
                                  "/case/%01R1", "/case/" + "R" * 65])
def test_a_malformed_id_or_filter_is_a_400_that_does_not_echo_it(app, path):
    client = signed_in(app, "cw1")
    answer = client.get(path)
    assert answer.status == 400, path
    assert "Traceback" not in answer.text and "nope" not in answer.text and "everything" not in answer.text


def test_a_server_error_is_a_plain_500_logged_once_without_personal_data(app, monkeypatch, caplog):
    from ehcp_tracker.web import views

    def broken(*args, **kwargs):
        raise RuntimeError("person P7259158 date of birth 2011-01-01")

    monkeypatch.setattr(views, "case_page", broken)
    client = signed_in(app, "admin")
    with caplog.at_level(logging.ERROR, logger="ehcp_tracker.web"):
        answer = client.get("/case/AR0000002")
    assert answer.status == 500
    assert "Traceback" not in answer.text and "P7259158" not in answer.text and "AR0000002" not in answer.text
    records = [r for r in caplog.records if r.name == "ehcp_tracker.web" and r.levelno >= logging.ERROR]
    assert len(records) == 1
    logged = records[0].getMessage()
    assert "RuntimeError" in logged and "/case" in logged
    assert "P7259158" not in logged and "AR0000002" not in logged and "2011" not in logged


# ------------------------------------------------------------------------------------- headers

def test_every_answer_carries_the_safety_headers(app):
    client = signed_in(app, "cw1")
    for path in ("/cases", "/case/R9999999", "/cases?kind=x", "/static/app.css", "/sign-in"):
        answer = client.get(path)
        csp = answer.header("content-security-policy")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp, path
        assert answer.header("x-content-type-options") == "nosniff"
        assert answer.header("referrer-policy") == "same-origin"
        assert answer.header("strict-transport-security") is None, "no HSTS over plain HTTP"
        if not path.startswith("/static/"):
            assert answer.header("cache-control") == "no-store", path
    page = client.get("/cases").text
    assert "<script" not in page and "style=" not in page, "nothing inline that the CSP would have to allow"


def test_cookies_are_httponly_samesite_strict_and_secure_behind_tls(tray, book):  # noqa: F811
    _, engine = tray
    application = make_app(engine, book, Settings(as_of=AS_OF, trusted_proxies=("10.0.0.5",)), now=Clock())
    plain = Client(application)
    plain.get("/sign-in")
    answer = plain.sign_in("cw1", PASSWORD)
    cookie = next(c for c in answer.headers["set-cookie"] if c.startswith("ehcp_session="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    behind = Client(application, address="10.0.0.5")
    page = behind.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    answer = behind.post("/sign-in", {"csrf": page.csrf(), "username": "cw1", "password": PASSWORD},
                         headers={"X-Forwarded-Proto": "https"})
    cookie = next(c for c in answer.headers["set-cookie"] if c.startswith("ehcp_session="))
    assert "Secure" in cookie
    assert answer.header("strict-transport-security").startswith("max-age=")
    spoofed = Client(application, address="192.0.2.9")
    assert spoofed.get("/sign-in", headers={"X-Forwarded-Proto": "https"}).header("strict-transport-security") is None
    application.access_log.flush()


# ------------------------------------------------------------------------------------- sessions

def test_sign_in_rotates_the_session_and_sign_out_ends_it(app):
    client = Client(app)
    client.get("/sign-in")
    before = dict(client.cookies)
    answer = client.sign_in("cw1", PASSWORD)
    assert answer.status == 303 and "ehcp_session" in client.cookies and "ehcp_session" not in before
    first = client.cookies["ehcp_session"]
    again = Client(app)
    again.sign_in("cw1", PASSWORD)
    assert again.cookies["ehcp_session"].split(".")[0] != first.split(".")[0], "a new session id each sign-in"
    page = client.get("/cases")
    out = client.post("/sign-out", {"csrf": page.csrf()})
    assert out.status == 303 and "ehcp_session" not in client.cookies
    assert client.get("/cases").status == 303


def test_a_post_without_its_csrf_token_is_refused(app):
    client = signed_in(app, "cw1")
    assert client.post("/sign-out", {}).status == 403
    assert client.post("/sign-out", {"csrf": "forged"}).status == 403
    assert client.get("/cases").status == 200, "still signed in: the forged sign-out did nothing"
    anonymous = Client(app)
    anonymous.get("/sign-in")
    refused = anonymous.post("/sign-in", {"username": "cw1", "password": PASSWORD})
    assert refused.status == 403 and "ehcp_session" not in anonymous.cookies


def test_idle_and_absolute_expiry(tray, book):  # noqa: F811
    _, engine = tray
    clock = Clock()
    application = make_app(engine, book, Settings(as_of=AS_OF), now=clock)
    client = Client(application)
    client.sign_in("cw1", PASSWORD)
    clock.advance(minutes=29)
    assert client.get("/cases").status == 200
    clock.advance(minutes=29)
    assert client.get("/cases").status == 200, "each request restarts the 30 idle minutes"
    clock.advance(minutes=31)
    assert client.get("/cases").status == 303, "31 idle minutes: signed out"
    client.sign_in("cw1", PASSWORD)
    for _ in range(21):  # busy all day: 21 half-hours of activity
        clock.advance(minutes=29)
        last = client.get("/cases").status
    assert last == 303, "10 hours after sign-in the session ends however busy"
    application.access_log.flush()


def test_a_disabled_account_loses_its_session(tray, book):  # noqa: F811
    url, engine = tray
    application = make_app(engine, book, Settings(as_of=AS_OF), now=Clock())
    client = Client(application)
    client.sign_in("cw4", PASSWORD)
    assert client.get("/cases").status == 200
    accounts.set_enabled(engine, "cw4", False)
    assert client.get("/cases").status == 303
    assert Client(application).sign_in("cw4", PASSWORD).status == 401
    accounts.set_enabled(engine, "cw4", True)
    assert Client(application).sign_in("cw4", PASSWORD).status == 303
    application.access_log.flush()


def test_five_failures_lock_the_account_for_15_minutes_with_one_generic_message(tray, book):  # noqa: F811
    _, engine = tray
    clock = Clock()
    application = make_app(engine, book, Settings(as_of=AS_OF), now=clock)
    accounts.add(engine, "locked.out", "caseworker", caseworker="CW002", password=PASSWORD)
    messages = set()
    for _ in range(5):
        answer = Client(application).sign_in("locked.out", "wrong-password-123456")
        assert answer.status == 401
        messages.add(re.search(r'<a href="#username">(.*?)</a>', answer.text).group(1))
    unknown = Client(application).sign_in("no.such.user", "wrong-password-123456")
    messages.add(re.search(r'<a href="#username">(.*?)</a>', unknown.text).group(1))
    assert len(messages) == 1, "the same message whatever went wrong"
    assert Client(application).sign_in("locked.out", PASSWORD).status == 401, "locked: the right password fails"
    clock.advance(minutes=16)
    assert Client(application).sign_in("locked.out", PASSWORD).status == 303
    application.access_log.flush()
    log = entries(engine, user="locked.out")
    assert list(log["event"]).count("sign_in_failed") == 6 and list(log["event"])[-1] == "sign_in"
    assert "locked" in set(log["detail"].dropna())


def test_an_address_with_many_failures_is_throttled(tray, book):  # noqa: F811
    _, engine = tray
    application = make_app(engine, book, Settings(as_of=AS_OF), now=Clock())
    for i in range(20):
        Client(application, address="198.51.100.7").sign_in(f"guess{i}", "wrong-password-123456")
    assert Client(application, address="198.51.100.7").sign_in("cw1", PASSWORD).status == 401
    assert Client(application, address="198.51.100.8").sign_in("cw1", PASSWORD).status == 303
    application.access_log.flush()


def test_a_next_address_never_leaves_the_server(app):
    client = Client(app)
    page = client.get("/sign-in?next=//evil.example/x")
    answer = client.post("/sign-in", {"csrf": page.csrf(), "username": "cw1", "password": PASSWORD,
                                      "next": "//evil.example/x"})
    assert answer.header("location") == "/"


# ------------------------------------------------------------------------------------- SSO header

def test_the_user_header_is_trusted_only_from_the_proxy(tray, book):  # noqa: F811
    _, engine = tray
    settings = Settings(as_of=AS_OF, auth="header", user_header="X-Remote-User", trusted_proxies=("10.0.0.0/24",))
    application = make_app(engine, book, settings, now=Clock())
    proxy = Client(application, address="10.0.0.5")
    assert proxy.get("/cases", headers={"X-Remote-User": "cw1"}).status == 200
    assert proxy.get("/cases", headers={"X-Remote-User": "nobody"}).status == 403
    outsider = Client(application, address="192.0.2.1")
    answer = outsider.get("/cases", headers={"X-Remote-User": "admin"})
    assert answer.status == 403 and "My cases" not in answer.text
    assert proxy.get("/sign-in").status == 404, "no password form behind single sign-on"
    page = proxy.get("/cases", headers={"X-Remote-User": "cw1"})
    assert proxy.post("/sign-out", {}, headers={"X-Remote-User": "cw1"}).status == 403
    assert proxy.post("/sign-out", {"csrf": page.csrf()}, headers={"X-Remote-User": "cw1"}).status == 303
    with pytest.raises(Exception, match="--user-header"):
        make_app(engine, book, Settings(auth="header"))
    application.access_log.flush()


# ------------------------------------------------------------------------------------- access log

def test_each_view_and_download_is_in_the_access_log(app, tray):  # noqa: F811
    url, engine = tray
    client = signed_in(app, "lead.west")
    client.get("/case/R0000002")
    client.get("/cases.csv?caseworker=CW004")
    client.get("/case/R9999999")
    app.access_log.flush()
    log = entries(engine, user="lead.west")
    events = list(zip(log["event"], log["case_id"].fillna(""), log["detail"].fillna("")))
    assert events[0][0] == "sign_in"
    assert ("case_view", "R0000002", "") in events
    assert ("download", "", "csv: caseworker=CW004") in events
    assert not any(case == "R9999999" for _, case, _ in events), "a 404 is not a view"
    listing = cli_out(url, "access-log", "--case", "R0000002", "--format", "csv")
    assert "lead.west,case_view,R0000002" in listing
    assert cli_out(url, "access-log", "--user", "lead.west", "--since", "2000-01-01", "--format", "json").count(
        '"event"') == len(log)


# ------------------------------------------------------------------------------------- hostile text

HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "=HYPERLINK(\"http://x\")",
           "</td></tr><b>bold</b>", "' onmouseover='alert(1)"]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def hostile_tray(request, tmp_path_factory, book):
    """A caseload whose every imported text field carries HTML, script or a formula."""
    from ehcp_tracker.store import db

    url = make_database(request, tmp_path_factory, "hostile")
    engine = db.connect(url)
    db.init_db(engine)
    accounts.add(engine, "admin", "admin", password=PASSWORD)
    folder = tmp_path_factory.mktemp("hostile-files")
    header = ["request_id", "person_id", "request_received", "caseworker", "team", "closed_reason"]
    rows = [[f"X<b>{i}</b>", f"P<i>{i}</i>", "2026-08-03", HOSTILE[i], HOSTILE[-1 - i], HOSTILE[i]]
            for i in range(len(HOSTILE))]
    rows.append(["XSAFE1", "PSAFE1", "2026-08-03", "CW001", "North", "<script>x</script>"])
    from ehcp_tracker.ingest.importer import import_extract
    from ehcp_tracker.ingest.refresh import refresh_everything

    import_extract(engine, write_csv(folder / "hostile.csv", header, rows), book, AS_OF)
    refresh_everything(engine, book)
    yield url, engine
    engine.dispose()


def test_html_and_script_in_every_imported_field_are_shown_as_text(hostile_tray, book):
    url, engine = hostile_tray
    application = make_app(engine, book, Settings(as_of=AS_OF), now=Clock())
    client = signed_in(application, "admin")
    pages = [client.get("/team?team=" + requests_quote(t)) for t in HOSTILE]
    pages.append(client.get("/team"))
    pages += [client.get("/case/" + requests_quote(f"X<b>{i}</b>")) for i in range(len(HOSTILE))]
    pages += [client.get("/cases?caseworker=" + requests_quote(cw)) for cw in HOSTILE]
    pages.append(client.get("/case/XSAFE1"))
    assert all(p.status == 200 for p in pages), [p.status for p in pages]
    for page in pages:
        text = page.text
        assert "<script>" not in text and "<img" not in text and "<b>" not in text and "<i>" not in text
        assert "onerror=alert" not in text or "&#34;&gt;&lt;img" in text or "&quot;&gt;&lt;img" in text
        assert "' onmouseover='" not in text
    first_case = client.get("/case/" + requests_quote("X<b>0</b>")).text
    assert "X&lt;b&gt;0&lt;/b&gt;" in first_case and "&lt;script&gt;alert(1)&lt;/script&gt;" in first_case
    assert "P&lt;i&gt;0&lt;/i&gt;" in first_case, "shown as text, not dropped"
    assert "&lt;/td&gt;&lt;/tr&gt;&lt;b&gt;bold" in pages[len(HOSTILE)].text
    download = client.get("/cases.csv?caseworker=" + requests_quote(HOSTILE[2]))
    assert download.status == 200
    assert "'=HYPERLINK" in download.text, "a formula is neutralised in the download"
    application.access_log.flush()


def requests_quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_my_queries_are_ehcp_queries(app, tray):  # noqa: F811
    url, _ = tray
    client = signed_in(app, "cw1")
    page = client.get("/queries")
    assert page.status == 200
    expected = [(r["case_id"], r["code"]) for r in csv.DictReader(io.StringIO(
        cli_out(url, "queries", "--caseworker", "CW001", "--format", "csv")))]
    assert re.findall(r'data-case="([^"]*)" data-code="([^"]*)"', page.text) == expected and expected
    lead = signed_in(app, "lead.west")
    assert lead.get("/queries?caseworker=CW001").status == 404
    assert lead.get("/queries").status == 400, "a team lead names the caseworker"


def test_the_kpi_page_shows_the_board_packs_headline(app, tray, book):  # noqa: F811
    from ehcp_tracker.report.data import PackOptions, gather, value_text

    url, engine = tray
    lead = signed_in(app, "lead.north")
    page = lead.get("/kpis?month=2026-10")
    assert page.status == 200
    pack = gather(engine, book, "2026-10", AS_OF, options=PackOptions(team="North"))
    shown = dict(re.findall(r'data-kpi="([^"]+)">\s*<th scope="row" class="govuk-table__header">[^<]*</th>\s*'
                            r'<td class="govuk-table__cell govuk-table__cell--numeric">([^<]*)</td>', page.text))
    assert shown == {r["kpi"]: value_text(r["value"], r["unit"]) for r in pack.headline.to_dict("records")} and shown
    assert lead.get("/kpis?month=2026-10&team=West").status == 404
    assert lead.get("/kpis?month=10/2026").status == 400
    download = lead.get("/kpis/pack.xlsx?month=2026-10")
    assert download.status == 200 and download.body[:2] == b"PK"
    assert signed_in(app, "cw1").get("/kpis").status == 404
    admin = signed_in(app, "admin")
    assert admin.get("/kpis?month=2026-10").status == 200
    html_pack = admin.get("/kpis/pack.html?month=2026-10&team=West")
    assert html_pack.status == 200 and "attachment" in html_pack.header("content-disposition")


def test_a_page_reads_one_state_of_the_database(tray):  # noqa: F811
    """A page reads in one transaction: an import committing while it renders is not half seen."""
    import sqlalchemy as sa

    from ehcp_tracker.store import db
    from ehcp_tracker.web.access import snapshot

    url, engine = tray
    count = sa.select(sa.func.count()).select_from(db.assessment_table)
    other = db.connect(url)
    try:
        with snapshot(engine) as snap:
            with snap.connect() as conn:
                before = conn.execute(count).scalar()
            with db.write_transaction(other) as writer:  # the nightly import commits mid-page
                writer.execute(db.assessment_table.insert().values(
                    request_id="RSNAP1", person_id="PSNAP1", first_run_id=1, last_run_id=1))
            with snap.connect() as conn:
                assert conn.execute(count).scalar() == before, "the page still sees the state it began with"
        with engine.connect() as conn:
            assert conn.execute(count).scalar() == before + 1
    finally:
        with db.write_transaction(other) as writer:
            writer.execute(db.assessment_table.delete().where(db.assessment_table.c.request_id == "RSNAP1"))
        other.dispose()


# ------------------------------------------------------------------------------------- imports page

@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def imports_tray(request, tmp_path_factory, book):
    """The sample caseload, then a file refused (bad cells, one holding a name and a birth date) and
    a re-import that brings a new query: what the Imports page shows."""
    from ehcp_tracker.errors import ImportRejected
    from ehcp_tracker.ingest.importer import import_extract
    from ehcp_tracker.store import db

    from .conftest import ROOT

    url = make_database(request, tmp_path_factory, "imports")
    engine = db.connect(url)
    db.init_db(engine)
    accounts.add(engine, "admin", "admin", password=PASSWORD)
    accounts.add(engine, "lead.north", "team_lead", team="North", password=PASSWORD)
    folder = tmp_path_factory.mktemp("imports-files")
    source = ROOT / "sample_data" / "assessments.csv"
    first = import_extract(engine, source, book, AS_OF)
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    bad = [dict(r) for r in rows]
    bad[0]["request_received"] = "Alice Smith 2019-02-30"
    bad[1]["request_received"] = "Carol Brown"
    bad[2]["draft_plan_issued"] = "Bob Jones"
    refused = write_csv(folder / "refused.csv", list(rows[0]), [list(r.values()) for r in bad])
    with pytest.raises(ImportRejected):
        import_extract(engine, refused, book, AS_OF)
    again = [dict(r) for r in rows]
    final = next(i for i, r in enumerate(again) if r["draft_plan_issued"] and r["final_plan_issued"])
    draft = dt.date.fromisoformat(again[final]["draft_plan_issued"])
    again[final]["final_plan_issued"] = (draft + dt.timedelta(days=3)).isoformat()  # representations cut short
    second = import_extract(engine, write_csv(folder / "assessments.csv", list(rows[0]),
                                              [list(r.values()) for r in again]), book, AS_OF)
    yield url, engine, first, second
    engine.dispose()


def test_the_imports_page_says_which_files_were_refused_and_why(imports_tray, book):
    from ehcp_tracker.store import db

    url, engine, first, second = imports_tray
    with engine.connect() as conn:
        runs = {r.file_name: r for r in conn.execute(db.import_run.select().order_by(db.import_run.c.id))}
    reason = runs["refused.csv"].refusal_reason
    assert runs["refused.csv"].status == "rejected" and reason.startswith("3 problems in 3 rows; nothing was imported")
    assert "column request_received, bad date: 2 rows" in reason and "column draft_plan_issued, bad date: 1 row" in reason
    for value in ("Alice", "Smith", "Bob", "Jones", "Carol", "2019-02-30", "R00000"):
        assert value not in reason, "a refusal reason holds no cell value and no ID"
    assert second.new_queries >= 1 and runs["assessments.csv"].new_queries == second.new_queries
    application = make_app(engine, book, Settings(as_of=AS_OF), now=Clock())
    page = signed_in(application, "admin").get("/imports")
    assert page.status == 200
    text = page.text
    refused_rows = re.findall(r'<tr class="govuk-table__row" data-run="(\d+)">(.*?)</tr>', text, re.S)
    assert [run for run, _ in refused_rows] == [str(runs["refused.csv"].id)]
    assert "refused.csv" in refused_rows[0][1] and html_escape(reason) in refused_rows[0][1]
    for value in ("Alice", "Bob Jones", "Carol"):
        assert value not in text
    # the runs table: what each run changed and its new queries
    cells = re.findall(r'<th scope="row" class="govuk-table__header">(\d+)</th>(.*?)</tr>', text.split('id="refused')[0], re.S)
    by_run = {run: re.findall(r'numeric">(?:<span[^>]*>[^<]*</span>)?([^<]*)</td>', row) for run, row in cells}
    assert by_run[str(runs["assessments.csv"].id)][-1] == str(second.new_queries)
    assert by_run[str(runs["assessments.csv"].id)][1] == str(second.changed)
    assert by_run[str(runs["refused.csv"].id)][-1] == "-", "a refused run brought no query"
    assert signed_in(application, "lead.north").get("/imports").status == 404
    application.access_log.flush()


def html_escape(text: str) -> str:
    import html

    return html.escape(text, quote=True)
