"""The chain's EVM: py-evm's Prague rules plus the fork-join precompile, with the
recording account database installed.

``PavmState`` is what the miner and every validation worker execute on; ``ReferenceState``
is py-evm's own, unmodified Prague state with the fork-join precompile added in its
serial definition (``common/forkjoin.py``): the baseline every determinism test and
benchmark compares against. The chain runs Prague transaction semantics (EIP-7702,
EIP-7623, ...) on every block; block-level system calls of Ethereum (beacon roots,
history storage, execution-layer requests) belong to the beacon chain and have no
counterpart in a pavm block.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import rlp
from eth.abc import ComputationAPI, SignedTransactionAPI
from eth.exceptions import UnrecognizedTransactionType
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import ValidationError

from common.forkjoin import Runner, parallel_precompile
from common.gas_schedule import DEFAULT_FORK_JOIN, ForkJoinGas
from common.recording import Op, OpKind, RecordingAccountDB
from common.subcalls import PARALLEL_ADDRESS
from common.untrusted import check_rlp_depth

FORK_NAME = "prague"
PavmComputation = PragueComputation.configure(
    __name__="PavmComputation",
    _precompiles={**PRAGUE_PRECOMPILES, PARALLEL_ADDRESS: parallel_precompile},
)
"""Prague's computation with the fork-join precompile."""
ReferenceState = PragueState.configure(__name__="ReferenceState", computation_class=PavmComputation)
"""py-evm's state class for the chain's fork, unmodified but for the fork-join
precompile, which runs its serial definition here: the serial baseline."""


class PavmTransactionExecutor(PragueTransactionExecutor):
    """Prague's executor, telling the recorder when py-evm is crediting fees."""

    def finalize_computation(
        self, transaction: SignedTransactionAPI, computation: ComputationAPI
    ) -> ComputationAPI:
        db = cast(_RecordingPragueState, self.vm_state).recording_db
        db.finalizing = True
        ops, writes = len(db.ops), len(db.writes)
        try:
            return super().finalize_computation(transaction, computation)
        finally:
            db.finalizing = False
            # py-evm checks the touched accounts (EIP-161) in the order of a Python set,
            # which differs from process to process (hash randomisation): put what
            # finalisation recorded in one canonical order, or two nodes would hash
            # the same operations differently.
            db.ops[ops:] = sorted(db.ops[ops:], key=_op_order)
            db.writes[writes:] = sorted(db.writes[writes:], key=_op_order)


def _op_order(op: Op) -> tuple[int, bytes, int]:
    return op[0], op[1], op[2]


class _RecordingPragueState(PragueState):
    transaction_executor_class = PavmTransactionExecutor
    computation_class = PavmComputation
    subcall_runner: Runner | None = None
    """How the fork-join precompile runs sub-calls here (serially when ``None``)."""

    def __init__(self, db: Any, execution_context: ExecutionContext, state_root: Hash32) -> None:
        super().__init__(db, execution_context, state_root)
        self.recording_db.beneficiary = execution_context.coinbase

    @property
    def recording_db(self) -> RecordingAccountDB:
        """The account database, typed as the recording one this class installs."""
        return cast(RecordingAccountDB, self._account_db)

    def use_account_db(self, account_db: RecordingAccountDB) -> None:
        """Execute on a long-lived replica instead of the database built in ``__init__``."""
        account_db.beneficiary = self.execution_context.coinbase
        self._account_db = account_db

    def get_transient_storage(self, address: Address, slot: int) -> bytes:
        value = super().get_transient_storage(address, slot)
        self.recording_db.ops.append((OpKind.READ_TRANSIENT, address, slot, value))
        return value

    def set_transient_storage(self, address: Address, slot: int, value: bytes) -> None:
        super().set_transient_storage(address, slot, value)
        self.recording_db.ops.append((OpKind.WRITE_TRANSIENT, address, slot, value))


PavmState = _RecordingPragueState.configure(
    __name__="PavmState", account_db_class=RecordingAccountDB
)


class PavmExecutionContext(ExecutionContext):
    """py-evm's execution context plus the chain's fork-join gas, so the precompile
    finds it through ``computation.state.execution_context``."""

    def __init__(self, fork_join: ForkJoinGas, **fields: Any) -> None:
        super().__init__(**fields)
        self.fork_join = fork_join


@dataclass(frozen=True, slots=True)
class BlockEnv:
    """What a block's transactions can observe of the block they run in."""

    number: int
    timestamp: int
    coinbase: bytes
    gas_limit: int
    base_fee: int
    chain_id: int
    prev_hashes: tuple[bytes, ...] = ()
    """Hashes of up to 256 ancestors, parent first (for BLOCKHASH)."""
    fork_join: ForkJoinGas = DEFAULT_FORK_JOIN
    """The chain's fork-join gas (a chain parameter the precompile reads)."""

    def execution_context(self) -> ExecutionContext:
        """py-evm's view of this environment, carrying the fork-join gas too."""
        return PavmExecutionContext(
            self.fork_join,
            coinbase=Address(self.coinbase),
            timestamp=self.timestamp,
            block_number=BlockNumber(self.number),
            difficulty=0,
            mix_hash=Hash32(b"\x00" * 32),
            gas_limit=self.gas_limit,
            prev_hashes=[Hash32(h) for h in self.prev_hashes],
            chain_id=self.chain_id,
            base_fee_per_gas=self.base_fee,
            excess_blob_gas=0,
        )


def decode_transaction(raw: bytes) -> SignedTransactionAPI:
    """Decode a signed transaction in its network encoding (legacy RLP or typed envelope).

    Whatever is wrong with ``raw`` (nesting no transaction has, checked before the native
    decoder sees it; bad RLP; an unknown type; fields of the wrong shape) raises
    ``ValueError`` saying what.
    """
    check_rlp_depth(raw)
    try:
        return PragueTransactionBuilder.decode(raw)
    except (
        rlp.DecodingError,
        rlp.DeserializationError,
        ValidationError,
        UnrecognizedTransactionType,
    ) as exc:
        raise ValueError(str(exc)) from None


def encode_transaction(tx: SignedTransactionAPI) -> bytes:
    """The network encoding of a signed transaction, inverse of :func:`decode_transaction`."""
    return cast(bytes, PragueTransactionBuilder.serialize(tx))


def gas_used_by(tx: SignedTransactionAPI, computation: ComputationAPI) -> int:
    """Gas a transaction is charged, after refunds and the EIP-7623 floor (py-evm's rule)."""
    return int(PragueVM.finalize_gas_used(tx, computation))


def apply_reference(state: Any, transactions: Sequence[SignedTransactionAPI]) -> None:
    """Apply transactions in order exactly as py-evm's VM does (lock changes, apply)."""
    for tx in transactions:
        state.lock_changes()
        state.apply_transaction(tx)
