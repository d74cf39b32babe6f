"""The web work tray (``ehcp serve``): sign-in, roles, the pages caseworkers and team leads use, and
the access log.

It may import the shared modules (``listings``, ``output``, ``schema``, ``errors``), ``store`` (its
tables, the clock rows), ``clocks`` (the explain wording, ``today``), ``measures`` and ``report``
(the KPI pages and the board pack) and ``alerts.people`` (``ehcp users import`` reads the people
file). Nothing but ``cli`` imports it; the WSGI app is a library function (``app.make_app``) that
tests drive directly and through a real waitress server.
"""
