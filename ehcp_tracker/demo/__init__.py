"""The demo (``ehcp demo``) and the synthetic extract generator (``ehcp demo generate``, ``sample_data/``).

May import any library package; never ``cli``.
"""
