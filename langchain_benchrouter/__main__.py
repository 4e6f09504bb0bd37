"""``python -m langchain_benchrouter`` runs the ``benchrouter`` command."""

from langchain_benchrouter.cli import main

raise SystemExit(main())
