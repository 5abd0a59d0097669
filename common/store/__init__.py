"""Where a node keeps its chain: LMDB behind py-evm's database interface (``kv``) and
the chain's own records next to the state tries (``chain``)."""
