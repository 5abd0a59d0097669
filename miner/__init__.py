"""The miner: executes transactions serially with recording and seals signed blocks."""

import common  # noqa: F401  (selects the keccak backend before eth_hash loads)
