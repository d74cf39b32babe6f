"""Running the work tray under waitress: a production WSGI server in pure Python, so it runs under
systemd and as a Windows service alike (docs/web.md)."""

from __future__ import annotations

import ipaddress
import logging

from .app import Settings, make_app


def beyond_loopback(host: str) -> bool:
    if host in ("localhost",):
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # a name: assume it may be reached from elsewhere


def start_warnings(host: str, base_url: str | None, auth: str) -> list[str]:
    notes = []
    if beyond_loopback(host) and not (base_url or "").startswith("https://"):
        notes.append(f"warning: serving on {host}, beyond loopback, without TLS: passwords and case data would "
                     "cross the network in clear. Put a TLS proxy in front and give --base-url https://...")
    if auth == "header" and beyond_loopback(host):
        notes.append("note: --auth header trusts only the --trusted-proxy addresses; make sure nothing else can "
                     "reach this port")
    return notes


def run(engine, book, *, host: str, port: int, auth: str, user_header: str | None, trusted_proxies,
        base_url: str | None, threads: int, as_of=None, say=print) -> None:
    import waitress

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings(auth=auth, user_header=user_header, trusted_proxies=tuple(trusted_proxies),
                        base_url=base_url, as_of=as_of)
    app = make_app(engine, book, settings)
    for note in start_warnings(host, base_url, auth):
        say(note)
    say(f"serving the work tray on http://{host}:{port}/ (Ctrl+C stops it)")
    try:
        waitress.serve(app, host=host, port=port, threads=threads, ident="ehcp", clear_untrusted_proxy_headers=False,
                       url_scheme="http")
    finally:
        app.access_log.flush(timeout=10)
