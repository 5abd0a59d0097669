"""Replaying a mined transaction to show the operations it performed.

Operations are not stored (a 300-transaction block records ~9,000); they are
reproduced on demand by re-executing, on the block's parent state, the group the
transaction belongs to up to that transaction, exactly as a validation worker does.
The replay's operation hashes must equal the stored receipt's, which is checked.

It runs on the timed recording state (``common/rpc/timed_call.py``): a caller asked for
it, so it keeps to the caller's deadline like any call (invariant 9,
docs/architecture.md), where a block's own execution is bounded by its gas alone.
"""

from dataclasses import dataclass

from common.chain.execute import TxOutcome, execute_transaction
from common.errors import PavmError
from common.evm.forks import decode_transaction
from common.rpc.timed_call import timed_recording_state
from common.store.chain import ChainStore


@dataclass(frozen=True)
class Replayed:
    number: int
    index: int
    group: int
    outcome: TxOutcome


def replay(store: ChainStore, tx_hash: bytes) -> Replayed | None:
    """Re-execute the mined transaction ``tx_hash``; ``None`` when it is not mined.
    ``CallTimeout`` once the caller's :func:`common.rpc.timed_call.deadline` passes."""
    location = store.transaction_location(tx_hash)
    if location is None:
        return None
    number, index = location
    block = store.block(number)
    if block is None or number == 0:
        return None
    group = next(g for g, members in enumerate(block.groups) if index in members)
    parent = store.state_at(number - 1)
    state = timed_recording_state(parent.env_of(block.header), parent.db, parent.head.state_root)
    state.recording_db.begin_group()
    outcome = None
    for member in block.groups[group]:
        outcome = execute_transaction(state, decode_transaction(block.transactions[member]))
        if member == index:
            break
    assert outcome is not None
    stored = store.receipts(number)
    if stored is not None and stored[index] != outcome.receipt:
        raise PavmError(f"replay of 0x{tx_hash.hex()} does not reproduce its receipt")
    return Replayed(number, index, group, outcome)
