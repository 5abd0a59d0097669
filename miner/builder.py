"""Block building (paper Fig. 9, miner side): serial recorded execution to a signed block.

raw txs ─▶ decode, check ─▶ execute with recording ─▶ R/W sets, op receipts
                                   │                          │
                   beneficiary credit, state root      union-find groups
                                   └──────────┬───────────────┘
                                              ▼
                               header (roots, hashes) signed by the miner
"""

from collections.abc import Sequence
from dataclasses import dataclass

from eth.db.account import AccountDB
from eth_utils import ValidationError

from common.chain.accounts import address_of
from common.chain.block import Block, Header
from common.chain.execute import TxOutcome, execute_transaction
from common.chain.grouping import group_transactions, groups_encoding, groups_hash
from common.chain.roots import receipt_commitments, transactions_root
from common.chain.rwset import block_rwset_encoding, rwset_hash
from common.chain.state import ChainState
from common.chain.txcheck import check_against_state, decode_checked
from common.errors import InvalidTransaction, TransactionDeferred
from common.evm.forkjoin import Speculative
from common.evm.recording import Op
from miner.helpers import SubcallHelpers


@dataclass(frozen=True, slots=True)
class SkippedTransaction:
    """A transaction the miner left out, and why."""

    position: int
    """Index in the list handed to :func:`build_block`."""
    reason: str
    deferred: bool = False
    """Valid, but not in this block (no room, fee below the base fee, or an earlier
    transaction of its sender deferred): it belongs back in the pool."""


@dataclass(frozen=True, slots=True)
class BuiltBlock:
    """What :func:`build_block` produced."""

    block: Block
    state: ChainState
    """State after the block."""
    outcomes: tuple[TxOutcome, ...]
    skipped: tuple[SkippedTransaction, ...]
    rwset_bytes: int
    """Size of the block's canonical R/W set encoding."""


def build_block(
    parent: ChainState,
    transactions: Sequence[bytes],
    miner_key: bytes,
    timestamp: int | None = None,
    helpers: SubcallHelpers | None = None,
) -> BuiltBlock:
    """Execute ``transactions`` on ``parent`` and seal the block the miner signs.

    Invalid transactions (undecodable, bad signature, wrong chain, nonce gap,
    insufficient balance, intrinsic gas) are skipped with a reason; they never stop
    the block. Valid ones that do not fit (no room left, fee cap below the base fee,
    or behind such a one of the same sender) are skipped as ``deferred``. Sub-calls
    run serially, or speculated on ``helpers`` (``parent`` must then be in the store
    they read) with the same result.
    """
    coinbase = address_of(miner_key)
    env = parent.next_env(coinbase, timestamp)
    state = parent.recording_state(env)
    db = state.recording_db
    db.begin_group()
    earlier: list[Op] = []
    """Surviving writes of the block's transactions so far (what a helper replays)."""
    if helpers is not None and len(helpers):
        state.subcall_runner = Speculative(helpers.speculator(env, parent.head.state_root, earlier))

    included: list[bytes] = []
    outcomes: list[TxOutcome] = []
    skipped: list[SkippedTransaction] = []
    gas_used = 0
    waiting: set[bytes] = set()
    """Senders with a deferred transaction: their later ones must wait too."""
    for position, raw in enumerate(transactions):
        try:
            tx = decode_checked(raw, env.chain_id)
            sender = tx.sender
            if sender in waiting:
                raise TransactionDeferred("an earlier transaction of its sender waits")
            balance = AccountDB.get_balance(db, sender)
            if sender == coinbase:
                balance += db.pending_credit  # fees earned earlier in this block
            check_against_state(
                tx, AccountDB.get_nonce(db, sender), balance, env.base_fee, env.gas_limit - gas_used
            )
            outcome = execute_transaction(state, tx)
        except TransactionDeferred as exc:
            # One that exceeds even an empty block's gas limit will never fit.
            later = tx.gas <= env.gas_limit
            skipped.append(SkippedTransaction(position, str(exc), deferred=later))
            waiting.add(tx.sender)
            continue
        except (InvalidTransaction, ValidationError) as exc:
            skipped.append(SkippedTransaction(position, str(exc)))
            continue
        earlier.extend(db.writes)
        included.append(bytes(raw))
        outcomes.append(outcome)
        gas_used += outcome.receipt.gas_used

    # BENEFICIARY: fee credits summed over the block, applied once.
    db.settle_credit()
    state.persist()

    rwsets = [o.rwset for o in outcomes]
    receipts = [o.receipt for o in outcomes]
    groups = group_transactions(rwsets)
    group_gas = [sum(receipts[i].gas_used for i in members) for members in groups]
    rwset_encoding = block_rwset_encoding(rwsets)
    commitments = receipt_commitments(included, receipts)
    header = Header(
        parent_hash=parent.head.hash,
        number=env.number,
        timestamp=env.timestamp,
        beneficiary=coinbase,
        state_root=bytes(state.state_root),
        transactions_root=transactions_root(included),
        receipts_root=commitments.receipts_root,
        logs_bloom=commitments.logs_bloom,
        op_receipts_root=commitments.op_receipts_root,
        rwset_hash=rwset_hash(rwset_encoding),
        groups_hash=groups_hash(groups_encoding(groups, group_gas)),
        gas_used=gas_used,
        gas_limit=env.gas_limit,
        base_fee=env.base_fee,
    ).signed_by(miner_key)
    block = Block(header, tuple(included), tuple(rwsets), tuple(groups), tuple(group_gas))
    return BuiltBlock(
        block, parent.advance(header), tuple(outcomes), tuple(skipped), len(rwset_encoding)
    )
