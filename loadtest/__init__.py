"""Workloads: Vyper contracts, transaction generators and the benchmarks built on them."""

import common  # noqa: F401  (selects the keccak backend before eth_hash loads)
