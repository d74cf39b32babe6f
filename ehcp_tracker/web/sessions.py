"""Session cookies: signed (HMAC-SHA256), HttpOnly, SameSite=Strict, Secure behind TLS; 30 minutes
idle, 10 hours at most; a fresh session id at every sign-in; a CSRF token derived from it.

The session lives in the cookie, not in a table: a page view never writes to the database, so a
nightly import holding SQLite's write lock does not make the work tray wait. What a cookie cannot
do alone is end early, so each carries the account's ``session_epoch``: a disable or a password
reset increments it and every older cookie is refused at the next request."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..store import db
from ..store.accounts import web_setting

COOKIE = "ehcp_session"
PRE_COOKIE = "ehcp_signin"  # before sign-in: the nonce the sign-in form's CSRF token is made from
IDLE = dt.timedelta(minutes=30)
ABSOLUTE = dt.timedelta(hours=10)
SECRET_NAME = "session_key"


def signing_key(engine: Engine) -> bytes:
    """The database's cookie-signing key, made on first use (every server over one database shares it)."""
    with engine.connect() as conn:
        value = conn.execute(sa.select(web_setting.c.value).where(web_setting.c.name == SECRET_NAME)).scalar()
    if value is None:
        try:
            with db.write_transaction(engine) as conn:
                conn.execute(web_setting.insert().values(name=SECRET_NAME, value=secrets.token_hex(32)))
        except sa.exc.IntegrityError:
            pass  # another server made it first: use theirs
        with engine.connect() as conn:
            value = conn.execute(sa.select(web_setting.c.value).where(web_setting.c.name == SECRET_NAME)).scalar()
    return bytes.fromhex(value)


@dataclass(frozen=True)
class Session:
    user: str
    sid: str
    epoch: int
    issued: float  # UTC seconds
    seen: float


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, purpose: str, payload: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}:{payload}".encode(), hashlib.sha256).digest())

    def dumps(self, session: Session) -> str:
        payload = _b64(json.dumps([session.user, session.sid, session.epoch, session.issued, session.seen],
                                  separators=(",", ":")).encode())
        return f"{payload}.{self._mac('session', payload)}"

    def loads(self, value: str | None, now: dt.datetime) -> Session | None:
        """The session in a cookie, or None when it is absent, forged, or past a timeout."""
        if not value or value.count(".") != 1 or len(value) > 1024:
            return None
        payload, mac = value.split(".")
        if not hmac.compare_digest(mac, self._mac("session", payload)):
            return None
        try:
            user, sid, epoch, issued, seen = json.loads(_unb64(payload))
            session = Session(str(user), str(sid), int(epoch), float(issued), float(seen))
        except (ValueError, TypeError):
            return None
        t = now.replace(tzinfo=dt.timezone.utc).timestamp()
        if t - session.seen > IDLE.total_seconds() or t - session.issued > ABSOLUTE.total_seconds() or t < session.issued - 60:
            return None
        return session

    def csrf(self, sid: str) -> str:
        return self._mac("csrf", sid)

    def csrf_ok(self, sid: str | None, token: str | None) -> bool:
        return bool(sid and token) and hmac.compare_digest(str(token), self.csrf(sid))


def new_session(user: str, epoch: int, now: dt.datetime) -> Session:
    t = now.replace(tzinfo=dt.timezone.utc).timestamp()
    return Session(user, secrets.token_urlsafe(18), epoch, t, t)


def touched(session: Session, now: dt.datetime) -> Session:
    return Session(session.user, session.sid, session.epoch, session.issued,
                   now.replace(tzinfo=dt.timezone.utc).timestamp())


def cookie_header(name: str, value: str, *, secure: bool, max_age: int | None = None) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)
