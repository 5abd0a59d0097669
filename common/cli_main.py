"""``python -m common.cli_main``: the ``pavm`` command without the console script."""

from common.cli import app

if __name__ == "__main__":
    app()
