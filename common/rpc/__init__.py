"""JSON-RPC 2.0 plumbing shared by the miner and validator services."""
