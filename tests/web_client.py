"""A WSGI test client for the work tray: requests straight into ``web.app.App`` (no socket), with
a cookie jar, so HTTP-level tests (headers, 404 sameness, CSRF, injection) run in milliseconds."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import unquote_to_bytes, urlencode, urlsplit


@dataclass
class Answer:
    status: int
    headers: dict[str, list[str]]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[-1] if values else None

    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]+)"', self.text)
        assert found, "no CSRF field on the page"
        return found.group(1)


class Client:
    def __init__(self, app, address: str = "127.0.0.1"):
        self.app, self.address, self.cookies = app, address, {}

    def request(self, method: str, url: str, form: dict | None = None, headers: dict | None = None,
                raw_body: bytes | None = None) -> Answer:
        parts = urlsplit(url)
        body = raw_body if raw_body is not None else (urlencode(form).encode() if form is not None else b"")
        environ = {"REQUEST_METHOD": method, "PATH_INFO": unquote_to_bytes(parts.path).decode("latin-1"),
                   "QUERY_STRING": parts.query, "REMOTE_ADDR": self.address, "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body)),
                   "SERVER_NAME": "localhost", "SERVER_PORT": "80"}
        if form is not None or raw_body is not None:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        captured = {}

        def start_response(status, response_headers):
            captured["status"] = int(status.split()[0])
            captured["headers"] = response_headers

        chunks = self.app(environ, start_response)
        answer_headers: dict[str, list[str]] = {}
        for name, value in captured["headers"]:
            answer_headers.setdefault(name.lower(), []).append(value)
        for value in answer_headers.get("set-cookie", []):
            jar = SimpleCookie(value)
            for key, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(key, None)
                else:
                    self.cookies[key] = morsel.value
        return Answer(captured["status"], answer_headers, b"".join(chunks))

    def get(self, url: str, **kwargs) -> Answer:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, form: dict, **kwargs) -> Answer:
        return self.request("POST", url, form=form, **kwargs)

    def sign_in(self, name: str, password: str) -> Answer:
        page = self.get("/sign-in")
        return self.post("/sign-in", {"csrf": page.csrf(), "username": name, "password": password, "next": "/"})
