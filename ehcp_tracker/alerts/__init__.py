"""Breach alerts (``ehcp alerts``): who is told what, once, after the nightly import.

``people`` reads the people file (who a caseworker value is, their address, team and role),
``events`` works out what happened since the last successful run from the clock results,
``ledger`` remembers what each recipient was told (the ``alert_ledger`` table), ``digest`` renders
one message per recipient (plain text and HTML from ``templates/digest.html``), ``delivery`` hands
the messages to an SMTP server or writes them to an outbox, and ``run`` ties the steps together.

May import the shared vocabulary (``schema``, ``errors``, ``output``), ``listings``, ``clocks`` and
``store``; never ``ingest``, ``measures``, ``report``, ``demo`` or ``cli``.
"""
