"""The little HTTP a server-rendered work tray needs, over plain WSGI (PEP 3333): a request with its
query, form and cookies parsed once, a response with the headers every page carries, and the
errors that become a 400 or a 404 page."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl

MAX_FORM_BYTES = 16 * 1024  # the sign-in form is a few hundred bytes; nothing else is posted


class HttpError(Exception):
    status = 500

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class BadRequest(HttpError):
    """A malformed ID or filter: a 400 page saying which parameter, never echoing its value."""

    status = 400


class NotFound(HttpError):
    """No such page, no such case, or a case this user may not see: the same answer for all three."""

    status = 404


class Forbidden(HttpError):
    """A POST without its CSRF token (the only 403: a case the user may not see is a 404)."""

    status = 403


class MethodNotAllowed(HttpError):
    status = 405


def _single(pairs: list[tuple[str, str]], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in pairs:
        if key in out:
            raise BadRequest(f"the {what} parameter {key!r} is given twice")
        out[key] = value
    return out


@dataclass
class Request:
    environ: dict
    method: str
    path: str
    query: dict[str, str]
    cookies: dict[str, str]
    address: str
    scheme: str
    form: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls, environ: dict) -> "Request":
        method = environ.get("REQUEST_METHOD", "GET").upper()
        raw_path = environ.get("PATH_INFO", "/") or "/"
        try:  # WSGI hands the path as latin-1 decoded bytes: undo that to read UTF-8 IDs
            path = raw_path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            raise BadRequest("the address is not valid UTF-8") from None
        try:
            query = _single(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True,
                                      strict_parsing=False, max_num_fields=50), "query")
        except ValueError:
            raise BadRequest("too many query parameters") from None
        cookies = {}
        try:
            jar = SimpleCookie(environ.get("HTTP_COOKIE", ""))
            cookies = {k: m.value for k, m in jar.items()}
        except CookieError:
            pass  # a malformed cookie header is treated as none
        request = cls(environ, method, path, query, cookies, environ.get("REMOTE_ADDR", ""),
                      environ.get("wsgi.url_scheme", "http"))
        if method == "POST":
            request.form = request._read_form()
        return request

    def _read_form(self) -> dict[str, str]:
        if not self.environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            raise BadRequest("a form must be sent as application/x-www-form-urlencoded")
        try:
            length = int(self.environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise BadRequest("a bad Content-Length") from None
        if length < 0 or length > MAX_FORM_BYTES:
            raise BadRequest("the form is too large")
        body = self.environ["wsgi.input"].read(length) if length else b""
        try:
            return _single(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20), "form")
        except (UnicodeError, ValueError):
            raise BadRequest("the form is not valid UTF-8 form data") from None

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))


@dataclass
class Response:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    personal: bool = True  # no-store: every page but the static files and the sign-in page's CSS

    @classmethod
    def redirect(cls, location: str, status: int = 303) -> "Response":
        return cls(b"", status, "text/plain; charset=utf-8", [("Location", location)])

    def status_line(self) -> str:
        return f"{self.status} {HTTPStatus(self.status).phrase}"
