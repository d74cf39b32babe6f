"""KPIs from clock results: the catalogue (``rules/kpi``) and its computation by month and year.

May import the shared vocabulary, ``listings``, ``clocks`` and ``store``; never ``ingest``, ``report`` or ``cli``.
"""
