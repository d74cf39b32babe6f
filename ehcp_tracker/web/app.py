"""The WSGI application of ``ehcp serve``: who is asking (a signed session cookie, or a trusted
proxy's header), what they may see (``access.Scope``), which page, and the headers every answer
carries. Pages themselves are in ``views``.

Every answer: ``Content-Security-Policy: default-src 'self'`` (no inline script or style at all),
``frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``;
``Cache-Control: no-store`` on every page (they are personal); HSTS when the request came over TLS.
An error page shows the status and one line, never a traceback, SQL or the value that was wrong; a
server error is logged once, by its exception type and the page's route, with no message (a
message may quote a value)."""

from __future__ import annotations

import collections
import datetime as dt
import ipaddress
import logging
import mimetypes
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..errors import EhcpError
from . import accounts, sessions
from .access import Scope, snapshot
from .access_log import AccessLog
from .http import BadRequest, Forbidden, HttpError, MethodNotAllowed, NotFound, Request, Response

log = logging.getLogger("ehcp_tracker.web")
HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
STATIC_FILES = {p.name for p in STATIC.iterdir() if p.is_file()} if STATIC.is_dir() else set()
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
ADDRESS_FAILURES = 20  # failed sign-ins from one address within LOCKOUT before it is throttled


@dataclass
class Settings:
    """How the server was started (``ehcp serve`` options)."""

    auth: str = "local"  # local | header
    user_header: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    base_url: str | None = None
    as_of: dt.date | None = None  # fixed "today" (tests, --as-of); None: today in Europe/London


@dataclass
class Visitor:
    """One request's signed-in user and what goes with them."""

    user: accounts.User
    scope: Scope
    csrf: str
    session: sessions.Session | None = None


class App:
    def __init__(self, engine, book, settings: Settings | None = None,
                 now: Callable[[], dt.datetime] = accounts.utcnow):
        self.engine, self.book = engine, book
        self.settings = settings or Settings()
        self.now = now
        self.signer = sessions.Signer(sessions.signing_key(engine))
        self.access_log = AccessLog(engine)
        self.templates = Environment(loader=FileSystemLoader(str(HERE / "templates")),
                                     autoescape=select_autoescape(default=True, default_for_string=True),
                                     trim_blocks=True, lstrip_blocks=True)
        self._failures: dict[str, collections.deque] = collections.defaultdict(collections.deque)
        self._lock = threading.Lock()
        self._networks = [ipaddress.ip_network(p, strict=False) for p in self.settings.trusted_proxies]
        from . import views

        self.views = views

    # ---------------------------------------------------------------------------------- plumbing

    def as_of(self) -> dt.date:
        if self.settings.as_of:
            return self.settings.as_of
        from ..clocks.dates import today

        return today()

    def render(self, template: str, visitor: Visitor | None, status: int = 200, **context) -> Response:
        page = self.templates.get_template(template).render(visitor=visitor, as_of=self.as_of(), **context)
        return Response(page.encode("utf-8"), status)

    def record(self, request: Request, visitor: Visitor | None, event: str, *, user: str | None = None,
               case_id: str | None = None, detail: str | None = None) -> None:
        self.access_log.record(at=self.now(), user=user or (visitor.user.id if visitor else None), event=event,
                               case_id=case_id, detail=detail, address=self.client_address(request))

    def from_proxy(self, request: Request) -> bool:
        try:
            address = ipaddress.ip_address(request.address)
        except ValueError:
            return False
        return any(address in network for network in self._networks)

    def client_address(self, request: Request) -> str:
        forwarded = request.header("X-Forwarded-For") if self.from_proxy(request) else None
        return (forwarded.split(",")[-1].strip() if forwarded else request.address)[:64]

    def secure(self, request: Request) -> bool:
        if request.scheme == "https":
            return True
        if self.from_proxy(request) and (request.header("X-Forwarded-Proto") or "").lower() == "https":
            return True
        return bool(self.settings.base_url and self.settings.base_url.startswith("https://"))

    # ---------------------------------------------------------------------------------- WSGI

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        request = None
        try:
            request = Request.from_environ(environ)
            response = self.handle(request)
        except HttpError as exc:
            response = self.error_page(exc.status, exc.message)
        except Exception as exc:  # noqa: BLE001 - a bug or a fault: logged once, shown as a plain 500
            route = self.route_name(request.path) if request else "?"
            # where it happened (file, line, function), not the source lines or the message: either may
            # hold a value (a person ID in a literal, a date in an exception's text)
            frames = " <- ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}"
                                 for f in reversed(traceback.extract_tb(exc.__traceback__)))
            log.error("server error %s on %s at %s", type(exc).__name__, route, frames)
            response = self.error_page(500, "")
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body))),
                   ("Content-Security-Policy", CSP), ("X-Content-Type-Options", "nosniff"),
                   ("Referrer-Policy", "same-origin"), ("X-Frame-Options", "DENY"),
                   ("Cross-Origin-Opener-Policy", "same-origin"),
                   ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
                   ("Server-Timing", f"app;dur={(time.perf_counter() - started) * 1000:.1f}")]
        if response.personal:
            headers.append(("Cache-Control", "no-store"))
        else:
            headers.append(("Cache-Control", "public, max-age=3600"))
        if request is not None and self.secure(request):
            headers.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        start_response(response.status_line(), headers + response.headers)
        return [response.body] if environ.get("REQUEST_METHOD", "GET").upper() != "HEAD" else [b""]

    def error_page(self, status: int, message: str) -> Response:
        titles = {400: "There is a problem with the address", 403: "This form has expired",
                  404: "Page not found", 405: "Not allowed", 500: "Sorry, there is a problem with the service"}
        page = self.templates.get_template("error.html").render(
            visitor=None, as_of=self.as_of(), status=status, title=titles.get(status, "Error"), message=message)
        return Response(page.encode("utf-8"), status)

    @staticmethod
    def route_name(path: str) -> str:
        """The route of a path with any ID left out (what a server error's log line names)."""
        head = path.strip("/").split("/", 1)[0]
        return "/" + head.split(".")[0] if head else "/"

    # ---------------------------------------------------------------------------------- dispatch

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/static/"):
            return self.static(path[len("/static/"):])
        if request.method not in ("GET", "HEAD", "POST"):
            raise MethodNotAllowed("")
        if path == "/sign-in":
            if self.settings.auth != "local":
                raise NotFound("")
            return self.views.sign_in(self, request)
        with snapshot(self.engine) as snap:
            visitor = self.visitor(request, snap)
            if request.method == "POST" and not (visitor and self.signer.csrf_ok(self.csrf_key(visitor),
                                                                                  request.form.get("csrf"))):
                if visitor is None:
                    return Response.redirect("/sign-in")
                raise Forbidden("the form had no valid security token: go back, reload the page and try again")
            if visitor is None:
                if self.settings.auth == "header":
                    return self.error_page(403, "sign in through your council's single sign-on first")
                target = quote(path + (("?" + request.environ.get("QUERY_STRING")) if request.query else ""),
                               safe="/?=&")
                return Response.redirect("/sign-in?next=" + quote(target, safe=""))
            response = self.views.route(self, request, visitor, snap)
        if visitor.session is not None and self.settings.auth == "local" and path != "/sign-out":
            cookie = self.signer.dumps(sessions.touched(visitor.session, self.now()))
            response.headers.append(("Set-Cookie", sessions.cookie_header(sessions.COOKIE, cookie,
                                                                          secure=self.secure(request))))
        return response

    def csrf_key(self, visitor: Visitor) -> str:
        return visitor.session.sid if visitor.session else f"header:{visitor.user.id}:{visitor.user.session_epoch}"

    def visitor(self, request: Request, snap) -> Visitor | None:
        conn = snap._conn
        if self.settings.auth == "header":
            if not self.from_proxy(request) or not self.settings.user_header:
                return None  # a header from anyone but the proxy is ignored
            name = request.header(self.settings.user_header)
            user = accounts.get(conn, name) if name else None
            if user is None or not user.enabled:
                return None
            visitor = Visitor(user, Scope.of(conn, user), "")
        else:
            session = self.signer.loads(request.cookies.get(sessions.COOKIE), self.now())
            if session is None:
                return None
            user = accounts.get(conn, session.user)
            if user is None or not user.enabled or user.session_epoch != session.epoch:
                return None
            visitor = Visitor(user, Scope.of(conn, user), "", session)
        visitor.csrf = self.signer.csrf(self.csrf_key(visitor))
        return visitor

    def static(self, name: str) -> Response:
        if name not in STATIC_FILES:
            raise NotFound("")
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if kind.startswith("text/"):
            kind += "; charset=utf-8"
        return Response((STATIC / name).read_bytes(), 200, kind, personal=False)

    # ---------------------------------------------------------------------------------- sign-in

    def address_throttled(self, address: str) -> bool:
        horizon = time.monotonic() - accounts.LOCKOUT.total_seconds()
        with self._lock:
            failures = self._failures[address]
            while failures and failures[0] < horizon:
                failures.popleft()
            return len(failures) >= ADDRESS_FAILURES

    def address_failed(self, address: str) -> None:
        with self._lock:
            self._failures[address].append(time.monotonic())


def make_app(engine, book, settings: Settings | None = None, **kwargs) -> App:
    """The WSGI application over ``engine`` (schema checked) and the rule book."""
    from ..store import db

    db.require_schema(engine)
    if settings and settings.auth == "header" and not (settings.user_header and settings.trusted_proxies):
        raise EhcpError("--auth header needs --user-header NAME and at least one --trusted-proxy ADDRESS")
    return App(engine, book, settings, **kwargs)
