"""Alembic migration scripts, shipped inside the package so ``ehcp init`` can upgrade any database.

``ehcp init`` runs them programmatically (``db.init_db``); there is no alembic.ini to carry around.
Each script is frozen: it spells out its tables rather than importing ``db.metadata``, so a later
change to ``db.py`` needs a new script (``tests/test_migrations.py`` checks head matches ``db.py``).
"""
