"""``python -m loadtest.cli``: the ``pavm`` command without the console script."""

from loadtest.cli.app import app

if __name__ == "__main__":
    app()
