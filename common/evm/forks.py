"""The chain's EVM: the "pavm" fork — py-evm's Prague rules plus pavm's instructions
(``common/evm/instructions.py``) and the fork-join precompile (``common/evm/forkjoin.py``) —
with the recording account database installed.

``PavmState`` is what the miner and every validation worker execute on; ``ReferenceState``
is py-evm's own, unmodified Prague state with the same computation, whose sub-calls run
in their serial definition there: the baseline every determinism test and benchmark
compares against. A chain config may name plain "prague" instead (:data:`FORKS`).

The chain runs Prague transaction semantics (EIP-7702, EIP-7623, ...) on every block;
block-level system calls of Ethereum (beacon roots, history storage, execution-layer
requests) belong to the beacon chain and have no counterpart in a pavm block.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import rlp
from eth.abc import (
    ComputationAPI,
    MessageAPI,
    SignedTransactionAPI,
    StateAPI,
    TransactionContextAPI,
)
from eth.exceptions import UnrecognizedTransactionType
from eth.vm.execution_context import ExecutionContext
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PRAGUE_PRECOMPILES, PragueComputation
from eth.vm.forks.prague.state import PragueState, PragueTransactionExecutor
from eth.vm.forks.prague.transactions import PragueTransactionBuilder
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import ValidationError

from common.encoding.untrusted import check_rlp_depth
from common.evm.forkjoin import Runner, parallel_precompile
from common.evm.gas_schedule import DEFAULT_GAS, GasSchedule
from common.evm.instructions import OPCODES, finish_frame
from common.evm.recording import Op, OpKind, RecordingAccountDB
from common.evm.subcalls import PARALLEL_ADDRESS, SubCall


class PavmComputation(PragueComputation):
    """Prague's computation with pavm's instructions and the fork-join precompile.

    Each frame keeps the sub-calls its SUBSOLs queued (``queued``) until a join, or
    until it ends (``common/evm/instructions.py``)."""

    # Read-only tables shared by every frame. py-evm declares both as instance attributes,
    # so annotating them ClassVar would clash with its types.
    opcodes = {**PragueComputation.opcodes, **OPCODES}  # noqa: RUF012
    _precompiles = {**PRAGUE_PRECOMPILES, PARALLEL_ADDRESS: parallel_precompile}  # noqa: RUF012

    def __init__(self, state: Any, message: Any, transaction_context: Any) -> None:
        super().__init__(state, message, transaction_context)
        self.queued: list[SubCall] = []

    @classmethod
    def apply_computation(
        cls,
        state: StateAPI,
        message: MessageAPI,
        transaction_context: TransactionContextAPI,
        parent_computation: ComputationAPI | None = None,
    ) -> ComputationAPI:
        computation = super().apply_computation(
            state, message, transaction_context, parent_computation
        )
        finish_frame(computation)
        return computation


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
    __name__="PavmState", account_db_class=RecordingAccountDB, computation_class=PavmComputation
)
"""The recording state of the "pavm" fork: what the miner and validators execute on."""
ReferenceState = PragueState.configure(__name__="ReferenceState", computation_class=PavmComputation)
"""py-evm's Prague state, unmodified but for the "pavm" fork's computation, which runs
sub-calls in their serial definition here: the serial baseline."""


@dataclass(frozen=True)
class Fork:
    """The rules a chain runs: ``recording`` for its nodes, ``reference`` for checks."""

    name: str
    computation: type[PragueComputation]
    recording: type[PragueState]
    reference: type[PragueState]


FORKS = {
    "pavm": Fork("pavm", PavmComputation, PavmState, ReferenceState),
    "prague": Fork(
        "prague",
        PragueComputation,
        _RecordingPragueState.configure(
            __name__="PragueRecordingState",
            account_db_class=RecordingAccountDB,
            computation_class=PragueComputation,
        ),
        PragueState,
    ),
}
"""Forks a chain config may name: "pavm" (Prague plus pavm's instructions and the
fork-join precompile; the default) and "prague" (py-evm's Prague alone, to compare)."""


class PavmExecutionContext(ExecutionContext):
    """py-evm's execution context plus the chain's gas schedule, so the instructions
    and the precompile find it through ``computation.state.execution_context``."""

    def __init__(self, gas: GasSchedule, **fields: Any) -> None:
        super().__init__(**fields)
        self.gas = gas


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
    fork: str = "pavm"
    """A name in :data:`FORKS` (a chain parameter)."""
    gas: GasSchedule = DEFAULT_GAS
    """The chain's gas schedule for pavm's additions (a chain parameter)."""

    def execution_context(self) -> ExecutionContext:
        """py-evm's view of this environment, carrying the gas schedule too."""
        return PavmExecutionContext(
            self.gas,
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

    def recording_state(self, db: Any, state_root: bytes) -> Any:
        """The chain fork's recording state over ``db`` at ``state_root``."""
        return FORKS[self.fork].recording(db, self.execution_context(), Hash32(state_root))

    def reference_state(self, db: Any, state_root: bytes) -> Any:
        """The chain fork's unmodified py-evm state: the serial baseline."""
        return FORKS[self.fork].reference(db, self.execution_context(), Hash32(state_root))


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
