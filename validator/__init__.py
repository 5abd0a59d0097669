"""The validator: re-executes a block's groups in parallel and checks what the miner declared."""

import common  # noqa: F401  (selects the keccak backend before eth_hash loads)
