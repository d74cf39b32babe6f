"""The pages: each reads through the request's snapshot with the visitor's scope, calls the same
library functions the CLI calls (``listings.due``, ``listings.queries``, ``clocks.explain``,
``store.changes``), and renders a template. Row-level access is ``access``'s: a view never filters
what a template shows."""

from __future__ import annotations

import datetime as dt
import io
import re
import secrets
from urllib.parse import urlencode

import pandas as pd
import sqlalchemy as sa

from ..clocks.explain import explain_case
from ..errors import EhcpError
from ..listings import Filters, clock_titles, days_text, due, queries, week_window
from ..output import clean, to_csv, to_xlsx
from ..schema import COHORTS, KINDS
from ..store import db
from . import accounts, sessions
from .access import caseworkers_of, stored_spellings, teams_of, visible_case
from .team_figures import team_figures
from .http import BadRequest, NotFound, Response

ID_PATTERN = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{1,64}$")
WINDOWS = {"week": None, "14": 14}


def route(app, request, visitor, snap) -> Response:
    path = request.path
    if path == "/":
        return Response.redirect("/cases" if visitor.user.role == "caseworker" else "/team")
    if path == "/sign-out":
        if request.method != "POST":
            raise NotFound("")
        return sign_out(app, request, visitor)
    if request.method != "GET" and request.method != "HEAD":
        raise NotFound("")
    if path == "/queries":
        return query_list(app, request, visitor, snap)
    if path in ("/cases", "/cases.csv", "/cases.xlsx"):
        return case_list(app, request, visitor, snap, path.rpartition(".")[2] if "." in path else "html")
    if path.startswith("/case/"):
        return case_page(app, request, visitor, snap, path[len("/case/"):])
    if path == "/search":
        return search(app, request, visitor, snap)
    if path == "/team":
        return team_page(app, request, visitor, snap)
    if path in ("/kpis", "/kpis/pack.html", "/kpis/pack.xlsx"):
        return kpi_page(app, request, visitor, snap, path.rpartition(".")[2] if "." in path else "page")
    if path == "/imports":
        return imports_page(app, request, visitor, snap)
    raise NotFound("")


def case_id_of(text: str) -> str:
    """A case ID from an address or a form, exactly as stored (IDs are never fuzzy-matched: a
    search must not walk personal data). Malformed: a 400 that does not repeat the value."""
    if not ID_PATTERN.match(text or "") or text != text.strip():
        raise BadRequest("a case ID has 1 to 64 letters, digits or signs, with no spaces around it")
    return text


# ---------------------------------------------------------------------------------------- sign-in

def _safe_next(target: str | None) -> str:
    """Only a path on this server (``/cases?...``), never ``//elsewhere`` or a full URL."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def sign_in(app, request) -> Response:
    secure = app.secure(request)
    nonce = request.cookies.get(sessions.PRE_COOKIE)
    headers = []
    if not nonce or len(nonce) > 64:
        nonce = secrets.token_urlsafe(18)
        headers.append(("Set-Cookie", sessions.cookie_header(sessions.PRE_COOKIE, nonce, secure=secure)))
    token = app.signer.csrf("pre:" + nonce)
    target = _safe_next(request.form.get("next") if request.method == "POST" else request.query.get("next"))
    if request.method not in ("GET", "HEAD", "POST"):
        raise NotFound("")
    error = None
    name = ""
    if request.method == "POST":
        if not app.signer.csrf_ok("pre:" + nonce, request.form.get("csrf")):
            response = app.error_page(403, "the sign-in form had expired: go back, reload the page and try again")
            response.headers += headers
            return response
        name = request.form.get("username", "")
        password = request.form.get("password", "")
        address = app.client_address(request)
        if app.address_throttled(address):
            result = accounts.SignIn(None, "throttled")
        else:
            result = accounts.sign_in(app.engine, name, password, app.now())
        if result.reason == "ok":
            session = sessions.new_session(result.user.id, result.user.session_epoch, app.now())  # a new id: rotated
            app.record(request, None, "sign_in", user=result.user.id)
            response = Response.redirect(target)
            response.headers += [
                ("Set-Cookie", sessions.cookie_header(sessions.COOKIE, app.signer.dumps(session), secure=secure)),
                ("Set-Cookie", sessions.cookie_header(sessions.PRE_COOKIE, "", secure=secure, max_age=0))]
            return response
        if result.reason != "throttled":
            app.address_failed(address)
        app.record(request, None, "sign_in_failed", user=result.user.id if result.user else None,
                   detail=result.reason)
        error = "The user name or password is not right, or the account cannot sign in now. Try again later or ask your administrator."
    response = app.render("sign_in.html", None, status=200 if error is None else 401, csrf=token, error=error,
                          next=target, username=name[:64])
    response.headers += headers
    return response


def sign_out(app, request, visitor) -> Response:
    app.record(request, visitor, "sign_out")
    response = Response.redirect("/sign-in?signed_out=1" if app.settings.auth == "local" else "/")
    response.headers.append(("Set-Cookie", sessions.cookie_header(sessions.COOKIE, "", secure=app.secure(request),
                                                                  max_age=0)))
    return response


# ---------------------------------------------------------------------------------------- lists

def _choice(request, name: str, allowed, default=""):
    value = request.query.get(name, default)
    if value and value not in allowed:
        raise BadRequest(f"the {name} filter is not one this page knows")
    return value


def list_filters(app, request, visitor, snap) -> tuple[Filters, dict, str]:
    """The visitor's filters for a caseworker's list, narrowed to what they may see, the query as
    given (for links), and whose list it is. A caseworker outside the visitor's scope is a 404."""
    conn = snap._conn
    kind = _choice(request, "kind", KINDS)
    clock = _choice(request, "clock", {c.id for c in app.book.clocks})
    cohort = _choice(request, "cohort", COHORTS)
    window = _choice(request, "window", WINDOWS, "week") or "week"
    user = visitor.user
    if user.role == "caseworker":
        wanted = request.query.get("caseworker", "")
        if wanted and wanted not in visitor.scope.caseworkers:
            raise NotFound("")
        whose = user.caseworker
        filters = visitor.scope.filters(Filters(kind=kind or None, clock=clock or None, cohort=cohort or None))
    else:
        whose = request.query.get("caseworker", "")
        if not whose or len(whose) > 64:
            raise BadRequest("choose a caseworker (the caseworker parameter)")
        if whose not in caseworkers_of(conn, visitor.scope):
            raise NotFound("")
        filters = visitor.scope.filters(Filters(kind=kind or None, clock=clock or None, cohort=cohort or None,
                                                caseworker=stored_spellings(conn, "caseworker", whose)))
    given = {k: v for k, v in {"caseworker": "" if user.role == "caseworker" else whose, "kind": kind, "clock": clock,
                               "cohort": cohort, "window": "" if window == "week" else window}.items() if v}
    return filters, given, whose


def describe(filters_given: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(filters_given.items())) or "all"


def clock_lines(frame: pd.DataFrame, book, as_of: dt.date) -> list[dict]:
    """One line per clock in words: what is due, by when, how late or how long left, what next."""
    titles = clock_titles(book)
    stops = {c.id: c.stop for c in book.clocks}
    lines = []
    for row in frame.itertuples(index=False):
        due_day = None if pd.isna(row.due) else row.due.date()
        lines.append({
            "case_id": row.case_id, "kind": row.kind, "clock": row.clock, "title": titles.get(row.clock, row.clock),
            "due": due_day, "status": row.status, "days": days_text(row.status, int(row.days_overdue), row.due, as_of),
            "overdue": row.status == "overdue", "exception": row.exception,
            "next": "record " + stops.get(row.clock, "the stop event").replace("_", " ") + " in the case system",
            "reference": row.reference,
        })
    return lines


def case_list(app, request, visitor, snap, fmt: str) -> Response:
    filters, given, whose = list_filters(app, request, visitor, snap)
    as_of = app.as_of()
    days = WINDOWS[given.get("window", "week")]
    frame, (start, end) = due(snap, app.book, as_of, filters, days=days)
    if fmt in ("csv", "xlsx"):
        app.record(request, visitor, "download", detail=f"{fmt}: {describe({**given, 'caseworker': whose})}")
        name = f"due-{re.sub(r'[^A-Za-z0-9_-]', '_', whose)}-{as_of.isoformat()}.{fmt}"
        if fmt == "csv":
            body, kind = to_csv(frame).encode("utf-8"), "text/csv; charset=utf-8"
        else:
            buffer = io.BytesIO()
            to_xlsx(frame, buffer, sheet="due")
            body, kind = buffer.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return Response(body, 200, kind, [("Content-Disposition", f'attachment; filename="{name}"')])
    app.record(request, visitor, "list_view", detail=describe({**given, "caseworker": whose}))
    lines = clock_lines(frame, app.book, as_of)
    query_string = urlencode(given)
    return app.render("cases.html", visitor, whose=whose, lines=lines, start=start, end=end,
                      overdue=sum(1 for line in lines if line["overdue"]), given=given,
                      query_string=("?" + query_string) if query_string else "",
                      kinds=list(KINDS), clocks=sorted({c.id for c in app.book.clocks}), cohorts=COHORTS,
                      titles=clock_titles(app.book),
                      queries_query=("?" + urlencode({"caseworker": given["caseworker"]})) if "caseworker" in given else "")


def query_list(app, request, visitor, snap) -> Response:
    """The caseworker's queries (``ehcp queries --caseworker X``): a page of its own, because finding
    them reads and checks every case of the caseworker, which the clock list need not wait for."""
    filters, given, whose = list_filters(app, request, visitor, snap)
    found = queries(snap, app.book, app.as_of(), Filters(kind=filters.kind, caseworker=filters.caseworker,
                                                         team=filters.team, cohort=filters.cohort))
    app.record(request, visitor, "list_view", detail="queries: " + describe({**given, "caseworker": whose}))
    back = {k: v for k, v in given.items() if k == "caseworker"}
    return app.render("queries.html", visitor, whose=whose, queries=found.to_dict("records"),
                      back=("?" + urlencode(back)) if back else "")


# ---------------------------------------------------------------------------------------- case

def case_history(conn, kind_name: str, case_id: str) -> list[dict]:
    """What ``ehcp changes`` records of one case: deadline and status moves, then field changes
    (personal values masked as ``ehcp changes --fields`` masks them), newest first."""
    from ..store.changes import PERSONAL

    runs = db.import_run
    dc, cl = db.deadline_change, db.change_log
    moves = conn.execute(sa.select(dc, runs.c.as_of).join(runs, runs.c.id == dc.c.run_id)
                         .where(dc.c.kind == kind_name, dc.c.case_id == case_id)).all()
    fields = conn.execute(sa.select(cl, runs.c.as_of).join(runs, runs.c.id == cl.c.run_id)
                          .where(cl.c.kind == kind_name, cl.c.case_id == case_id)).all()
    out = []
    for m in moves:
        what = (f"{m.clock}: due {m.old_due or '-'} to {m.new_due or '-'}" if m.old_due != m.new_due
                else f"{m.clock}: status {m.old_status or '-'} to {m.new_status or '-'}")
        out.append({"run": m.run_id, "as_of": m.as_of, "order": (m.run_id, 0, m.id), "what": what, "why": m.why or ""})
    for f in fields:
        masked = (kind_name, f.field) in PERSONAL
        old, new = ("(not shown: personal)",) * 2 if masked else (f.old_value or "-", f.new_value or "-")
        out.append({"run": f.run_id, "as_of": f.as_of, "order": (f.run_id, 1, f.id),
                    "what": f"{f.field}: {old} to {new}", "why": ""})
    return sorted(out, key=lambda r: r["order"], reverse=True)


def case_page(app, request, visitor, snap, raw_id: str) -> Response:
    case_id = case_id_of(raw_id)
    conn = snap._conn
    found = visible_case(conn, visitor.scope, case_id)
    if found is None:
        raise NotFound("")  # missing, or not this user's: the same answer
    case, record = found
    siblings = None
    if case == "review":
        siblings = db.load_cases(conn, KINDS["reviews"], db.review_table.c.person_id == record.get("person_id")
                                 ).to_dict("records")
    as_of = app.as_of()
    working = explain_case(record, case, app.book, as_of, siblings)
    if record.get("missing_since_run_id"):
        working.notes.append(f"this case was missing from the extract of import run {record['missing_since_run_id']} "
                             "onwards: it is kept, but may have been closed in the case system")
    kind_name = next(k.name for k in KINDS.values() if k.case == case)
    app.record(request, visitor, "case_view", case_id=case_id)
    exceptions = app.book.exceptions
    return app.render("case.html", visitor, working=working, record=record, case_id=case_id, case=case,
                      history=case_history(conn, kind_name, case_id), exceptions=exceptions,
                      flags=[f for f, on in working.flags.items() if on], clean=clean)


def search(app, request, visitor, snap) -> Response:
    text = (request.query.get("case_id") or "").strip()
    if not text:
        return app.render("search.html", visitor, error=None, value="")
    case_id = case_id_of(text)
    app.record(request, visitor, "search", case_id=case_id)
    if visible_case(snap._conn, visitor.scope, case_id) is None:
        return app.render("search.html", visitor, status=404, value=case_id,
                          error="No case with that ID that you can see. Check the ID: the search is exact.")
    return Response.redirect(f"/case/{case_id}")


# ---------------------------------------------------------------------------------------- team

def team_page(app, request, visitor, snap) -> Response:
    conn = snap._conn
    user = visitor.user
    if user.role == "caseworker":
        raise NotFound("")
    team = request.query.get("team", "")
    if user.role == "admin" and not team:
        app.record(request, visitor, "team_view", detail="teams")
        return app.render("teams.html", visitor, teams=teams_of(conn))
    if user.role == "team_lead":
        if team and team not in visitor.scope.teams:
            raise NotFound("")
        team = user.team
        filters = visitor.scope.filters(Filters())
    else:
        if len(team) > 200 or team not in teams_of(conn):
            raise NotFound("")
        filters = Filters(team=stored_spellings(conn, "team", team))
    as_of = app.as_of()
    figures = team_figures(snap, app.book, as_of, filters)
    monday, sunday = week_window(as_of)
    app.record(request, visitor, "team_view", detail=f"team={team}")
    return app.render("team.html", visitor, team=team, rows=figures.rows, ageing=figures.ageing,
                      review_ageing=figures.review_ageing, month_start=as_of.replace(day=1), monday=monday,
                      sunday=sunday, urlencode=urlencode)


# ---------------------------------------------------------------------------------------- imports

def imports_page(app, request, visitor, snap) -> Response:
    """The last runs: what each changed (cases new, changed, missing, rows rejected, deadlines
    moved, new queries) and the files refused, with the stored reason (``import_run.refusal_reason``:
    counts by column and problem, no values)."""
    if visitor.user.role != "admin":
        raise NotFound("")
    conn = snap._conn
    runs = db.import_run
    rows = conn.execute(sa.select(runs).order_by(runs.c.id.desc()).limit(30)).all()
    moved = dict(conn.execute(sa.select(db.deadline_change.c.run_id, sa.func.count())
                              .where(db.deadline_change.c.run_id.in_([r.id for r in rows]))
                              .group_by(db.deadline_change.c.run_id)).all()) if rows else {}
    app.record(request, visitor, "list_view", detail="imports")
    refused = [r for r in rows if r.status == "rejected"]
    return app.render("imports.html", visitor, runs=rows, moved=moved, refused=refused)


def handle_library_error(exc: EhcpError) -> BadRequest:
    return BadRequest(str(exc).split(":")[0])


# ---------------------------------------------------------------------------------------- KPIs

def kpi_page(app, request, visitor, snap, fmt: str) -> Response:
    """One month's headline KPIs as the board pack shows them (``report.data.gather``: the same
    figures, the same RAG), for the lead's team or, for an admin, the council or a team; and the
    pack itself (HTML or XLSX) as a download."""
    import tempfile
    from pathlib import Path

    from ..report import PackOptions, write_pack
    from ..report.data import check_month, gather, value_text

    user = visitor.user
    if user.role == "caseworker":
        raise NotFound("")
    as_of = app.as_of()
    last_month = (as_of.replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    month = request.query.get("month", "") or last_month
    if not re.fullmatch(r"\d{4}-\d{2}", month):
        raise BadRequest("the month is written YYYY-MM")
    try:
        month = check_month(month, as_of)
    except EhcpError:
        raise BadRequest("the month is not one the tracker can report on yet") from None
    team = request.query.get("team", "") or None
    if user.role == "team_lead":
        if team and team not in visitor.scope.teams:
            raise NotFound("")
        team = user.team
    elif team and team not in teams_of(snap._conn):
        raise NotFound("")
    options = PackOptions(team=team)
    if fmt in ("html", "xlsx"):
        app.record(request, visitor, "download", detail=f"board pack {fmt}: month={month}" + (f", team={team}" if team else ""))
        with tempfile.TemporaryDirectory(prefix="ehcp-pack-") as folder:
            path = write_pack(snap, app.book, month, as_of, Path(folder) / f"pack.{fmt}", fmt, options)
            body = Path(path).read_bytes()
        kind = "text/html; charset=utf-8" if fmt == "html" else \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        name = f"board-pack-{month}{'-' + re.sub(r'[^A-Za-z0-9_-]', '_', team) if team else ''}.{fmt}"
        return Response(body, 200, kind, [("Content-Disposition", f'attachment; filename="{name}"')])
    pack = gather(snap, app.book, month, as_of, options=options)
    rows = []
    for row in pack.headline.to_dict("records"):
        rows.append({"kpi": row["kpi"], "title": row["title"], "value": value_text(row["value"], row["unit"]),
                     "previous": value_text(row["previous"], row["unit"]),
                     "ytd": value_text(row.get("ytd_value"), row["unit"]),
                     "target": value_text(row["target"], row["unit"]), "rag": row["rag"],
                     "movement": row["movement"], "judgement": row["judgement"]})
    app.record(request, visitor, "list_view", detail=f"kpis: month={month}" + (f", team={team}" if team else ""))
    query = urlencode({k: v for k, v in {"month": month, "team": team if user.role == "admin" else None}.items() if v})
    return app.render("kpis.html", visitor, month=month, team=team, rows=rows, notes=pack.notes, query=query)
