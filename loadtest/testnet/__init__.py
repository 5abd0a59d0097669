"""Launching and watching a testnet from outside: process mode on 127.0.0.1
(``process.py``), the containerised one through the Docker API (``compose.py``), the
compose stack as a benchmark's context manager (``stack.py``) and the health and
verdict probes both status views share (``probe.py``)."""
