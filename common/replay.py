"""Replaying a mined transaction to show the operations it performed.

Operations are not stored (a 300-transaction block records ~9,000); they are
reproduced on demand by re-executing, on the block's parent state, the group the
transaction belongs to up to that transaction, exactly as a validation worker does.
The replay's operation hashes must equal the stored receipt's, which is checked.
"""

from dataclasses import dataclass

from common.errors import PavmError
from common.evm import decode_transaction
from common.execute import TxOutcome, execute_transaction
from common.recording import (
    R_BALANCE,
    R_CODE,
    R_CODE_HASH,
    R_EXISTS,
    R_NONCE,
    R_ORIGINAL_STORAGE,
    R_STORAGE,
    R_TRANSIENT,
    W_BALANCE,
    W_CODE,
    W_DELETE_ACCOUNT,
    W_DELETE_STORAGE,
    W_LOG,
    W_NONCE,
    W_REFUND,
    W_STORAGE,
    W_TOUCH,
    W_TRANSIENT,
    W_WARM_ACCOUNT,
    W_WARM_SLOT,
)
from common.store import ChainStore

OP_NAMES = {
    R_EXISTS: "read_exists",
    R_BALANCE: "read_balance",
    R_NONCE: "read_nonce",
    R_CODE: "read_code",
    R_CODE_HASH: "read_code_hash",
    R_STORAGE: "read_storage",
    R_ORIGINAL_STORAGE: "read_original_storage",
    R_TRANSIENT: "read_transient",
    W_BALANCE: "write_balance",
    W_NONCE: "write_nonce",
    W_CODE: "write_code",
    W_STORAGE: "write_storage",
    W_DELETE_ACCOUNT: "delete_account",
    W_DELETE_STORAGE: "delete_storage",
    W_TOUCH: "create_account",
    W_TRANSIENT: "write_transient",
    W_WARM_ACCOUNT: "warm_account",
    W_WARM_SLOT: "warm_slot",
    W_LOG: "log",
    W_REFUND: "refund",
}


@dataclass(frozen=True)
class Replayed:
    number: int
    index: int
    group: int
    outcome: TxOutcome


def replay(store: ChainStore, tx_hash: bytes) -> Replayed | None:
    """Re-execute the mined transaction ``tx_hash``; ``None`` when it is not mined."""
    location = store.transaction_location(tx_hash)
    if location is None:
        return None
    number, index = location
    block = store.block(number)
    if block is None or number == 0:
        return None
    group = next(g for g, members in enumerate(block.groups) if index in members)
    parent = store.state_at(number - 1)
    state = parent.recording_state(parent.env_of(block.header))
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
