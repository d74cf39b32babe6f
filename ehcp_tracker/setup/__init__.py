"""First-run setup (``ehcp setup``): a council's own ``rules/local/`` files and draft profiles.

``first_run`` works out the files a council's choices make (its ``council.toml``, local targets, KPI
targets, term dates, draft profiles), checks them in a scratch copy of the rule book before anything
is written, and writes them; the command line only asks the questions and prints the result.

May import the shared vocabulary (``schema``, ``errors``, ``files``), ``clocks``, ``ingest`` (to draft
profiles) and ``measures`` (to check KPI targets); never ``store``, ``report``, ``alerts``, ``demo``,
``web`` or ``cli``. Only the command line imports it.
"""
