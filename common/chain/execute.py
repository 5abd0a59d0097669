"""Serial recorded execution: one transaction at a time on a :data:`PavmState`.

The miner runs a whole block through :func:`execute_transaction`; a validation worker
runs each of its groups through it. Both get, per transaction, the R/W set it
produced and its operation receipt.
"""

from dataclasses import dataclass
from typing import Any

from eth.abc import SignedTransactionAPI

from common.chain.receipts import OpReceipt, encode_log, operation_hashes
from common.chain.rwset import TxRWSet, build_rwset
from common.evm.forks import gas_used_by
from common.evm.recording import Op, OpKind


@dataclass(frozen=True, slots=True)
class TxOutcome:
    """What executing one transaction produced."""

    rwset: TxRWSet
    receipt: OpReceipt
    ops: tuple[Op, ...] = ()
    """Every recorded operation in order (kept by the miner, not sent back by workers)."""


def execute_transaction(state: Any, tx: SignedTransactionAPI, lock: bool = True) -> TxOutcome:
    """Execute ``tx`` on a recording state and fold what it did into an outcome.

    py-evm raises ``ValidationError`` before touching state when the transaction is
    invalid; the caller decides whether that skips it (miner) or rejects the block.
    Without ``lock`` the state is not locked first: a caller that will discard the
    transaction (a validation task) keeps its checkpoint intact and says where the
    transaction starts with ``RecordingAccountDB.start_from``.
    """
    db = state.recording_db
    if lock:
        state.lock_changes()
    db.begin_transaction()
    computation = state.apply_transaction(tx)
    ops, writes, reads_beneficiary = db.end_transaction()

    # Transaction-local effects go into the operation hash only.
    logs = []
    for address, topics, data in computation.get_log_entries():
        ops.append((OpKind.LOG, address, 0, encode_log(topics, data)))
        logs.append((address, tuple(t.to_bytes(32, "big") for t in topics), data))
    ops.append((OpKind.REFUND, b"", 0, computation.get_gas_refund()))

    gas_used = gas_used_by(tx, computation)
    read_hash, write_hash = operation_hashes(ops)
    receipt = OpReceipt(
        status=0 if computation.is_error else 1,
        gas_used=gas_used,
        logs=tuple(logs),
        read_hash=read_hash,
        write_hash=write_hash,
    )
    return TxOutcome(build_rwset(ops, writes, reads_beneficiary), receipt, tuple(ops))
