"""The chain: transactions and their checks, executing one with recording, R/W sets,
grouping, operation receipts, the standard tries and roots, headers sealed by the miner
and blocks, chain state and its batch commitment, genesis, and the keys that sign."""
