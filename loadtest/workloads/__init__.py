"""The paper's workloads: Vyper contracts and their artifacts (``contracts.py``), the
workload table (``table.py``), the transaction generator (``generator.py``) and the
JSON-RPC helpers that send a generator's transactions to a live chain (``chain.py``)."""
