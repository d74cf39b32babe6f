"""``python -m ehcp_tracker`` is the ``ehcp`` command."""

from .cli import main

main()
