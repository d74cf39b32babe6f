"""SEN2 in and out: read a council's SEN2 return (DfE XML), check it, export one, reconcile it with DfE's figures.

May import the shared vocabulary (``schema``, ``errors``, ``files``, ``output``), ``clocks``, ``store`` and
``ingest`` (its rows go through the same validation, guards and transaction as any extract); never
``measures``, ``report``, ``demo``, ``alerts`` or ``cli`` (``commands.py`` is the click layer cli.py registers).
"""
