"""Launching and watching a testnet from outside: process mode on 127.0.0.1
(``process.py``), the containerised one through the Docker API (``compose.py``), the
compose stack as a benchmark's context manager (``stack.py``), what a testnet is
(``settings.py``) and the head, health and verdict probes (``probe.py``)."""
