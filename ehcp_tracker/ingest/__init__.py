"""Tonight's file -> canonical rows -> the store: reading extracts (CSV, XLSX, profiles), validating them.

May import the shared vocabulary (``schema``, ``errors``, ``output``), ``clocks`` and ``store``; never ``measures``, ``report`` or ``cli``.
"""
