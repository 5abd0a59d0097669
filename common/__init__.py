"""Code shared by the miner and the validators: blocks, recording EVM, R/W sets, grouping.

Importing this package selects the pysha3 keccak backend (3-4x faster than the
default for the many small hashes of trie nodes) before anything imports
``eth_hash``; the serial baseline in every benchmark runs with the same backend,
so ratios stay honest.
"""

import os

os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
