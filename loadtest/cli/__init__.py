"""The ``pavm`` command line (``app.py``); ``python -m loadtest.cli`` runs it without the
console script."""
