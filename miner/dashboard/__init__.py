"""The miner's live dashboard: ``/dashboard`` (docs/architecture.md, invariant 11)."""
