"""The ``pavm`` command line (placeholder replaced below)."""
import typer

app = typer.Typer()
