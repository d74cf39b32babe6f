"""The database and its history: tables, migrations, the caseload read back, the change log.

Knows tables, not rules: may import only the shared vocabulary (``schema``, ``errors``), never ``clocks``.
"""
