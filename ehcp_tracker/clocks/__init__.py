"""The law as data and its arithmetic: the rule book, date counting, the engine and ``explain``.

May import only the shared vocabulary (``schema``, ``errors``): it stands alone and is tested alone.
"""
