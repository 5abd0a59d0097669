"""Chain state at a block: the trie database, the head header, the chain's parameters.

A :class:`ChainState` is immutable: building or validating a block produces a new one
over the same content-addressed database, so the parent stays readable (tests run the
same parent through the miner, the validator and unmodified py-evm).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from eth.abc import AtomicDatabaseAPI
from eth.constants import BLANK_ROOT_HASH
from eth.db.account import AccountDB
from eth.db.atomic import AtomicDB
from eth_hash.auto import keccak
from eth_typing import Address, Hash32

from common.chain.block import Header
from common.chain.grouping import groups_encoding, groups_hash
from common.chain.roots import receipt_commitments, transactions_root
from common.chain.rwset import block_rwset_encoding, rwset_hash
from common.encoding import codec
from common.errors import PavmError
from common.evm.forks import FORKS, BlockEnv
from common.evm.gas_schedule import DEFAULT_GAS, GasSchedule

MAX_ANCESTORS = 256
"""BLOCKHASH sees this many ancestors."""


@dataclass(frozen=True, slots=True)
class ChainConfig:
    """Parameters every node of one chain must share; block 0 commits to all of them
    (:meth:`digest`), so nodes that differ in any have different genesis hashes."""

    chain_id: int = 31337
    gas_limit: int = 30_000_000
    initial_base_fee: int = 1_000_000_000
    """Base fee of block 1, in wei; later blocks follow EIP-1559."""
    fork: str = "pavm"
    """The rules blocks run by, a name in ``common.evm.forks.FORKS``."""
    gas: GasSchedule = DEFAULT_GAS
    """Gas of pavm's instructions and fork-join precompile (``common/evm/gas_schedule.py``)."""

    def digest(self) -> bytes:
        """keccak of every parameter, canonically encoded: genesis's parent hash."""
        fields = [self.chain_id, self.gas_limit, self.initial_base_fee, *self.gas.numbers()]
        encoded = [b"pavm-chain", self.fork.encode(), *map(codec.uint, fields)]
        return bytes(keccak(codec.encode(encoded)))

    def to_json(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "gas_limit": self.gas_limit,
            "initial_base_fee": self.initial_base_fee,
            "fork": self.fork,
            "gas": self.gas.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ChainConfig":
        """Inverse of :meth:`to_json` (what the store keeps)."""
        return cls(
            chain_id=data["chain_id"],
            gas_limit=data["gas_limit"],
            initial_base_fee=data["initial_base_fee"],
            fork=data["fork"],
            gas=GasSchedule.from_json(data["gas"]),
        )


@dataclass(frozen=True, slots=True)
class GenesisAccount:
    """An account present at genesis."""

    balance: int = 0
    nonce: int = 0
    code: bytes = b""
    storage: Mapping[int, int] = field(default_factory=dict)


def next_base_fee(parent: Header, config: ChainConfig) -> int:
    """EIP-1559: the base fee moves by at most 1/8 toward keeping blocks half full."""
    if parent.number == 0:
        return config.initial_base_fee
    target = parent.gas_limit // 2
    if parent.gas_used == target:
        return parent.base_fee
    delta = parent.base_fee * abs(parent.gas_used - target) // target // 8
    if parent.gas_used > target:
        return parent.base_fee + max(delta, 1)
    return max(parent.base_fee - delta, 0)


PRECOMPILE_ACCOUNT = GenesisAccount(balance=1)
"""What a precompile's account holds at genesis unless the genesis file says."""


@dataclass(frozen=True, slots=True)
class ChainState:
    """The state after ``head``: trie nodes in ``db``, rooted at ``head.state_root``."""

    db: AtomicDatabaseAPI
    """py-evm's in-memory ``AtomicDB``, or the on-disk :class:`common.store.kv.LmdbDB`: atomic
    because a validator writes each accepted block's nodes in one batch."""
    config: ChainConfig
    head: Header
    ancestors: tuple[bytes, ...]
    """Hashes of the head and its ancestors, newest first, at most 256."""

    @classmethod
    def genesis(
        cls,
        alloc: Mapping[bytes, GenesisAccount],
        config: ChainConfig | None = None,
        db: AtomicDatabaseAPI | None = None,
    ) -> "ChainState":
        """A new chain whose block 0 holds ``alloc``, its state written to ``db``
        (a fresh in-memory database by default).

        Empty accounts are refused: EIP-161 removes them the first time they are
        touched, so a chain could not keep them anyway. Every precompile of the fork
        that ``alloc`` leaves out holds 1 wei, as on Ethereum's mainnet: a call to a
        missing account creates it and EIP-161 deletes it again, two writes that would
        make every transaction calling a precompile (every fork-join) conflict with
        every other one.
        """
        config = config or ChainConfig()
        db = AtomicDB() if db is None else db
        accounts = AccountDB(db, BLANK_ROOT_HASH)
        precompiles = FORKS[config.fork].computation.get_precompiles()
        alloc = {bytes(a): PRECOMPILE_ACCOUNT for a in precompiles} | dict(alloc)
        for raw, account in sorted(alloc.items()):
            address = Address(raw)
            if not (account.balance or account.nonce or account.code):
                raise PavmError(f"genesis account 0x{raw.hex()} is empty (EIP-161)")
            accounts.set_balance(address, account.balance)
            accounts.set_nonce(address, account.nonce)
            accounts.set_code(address, account.code)
            for slot, value in account.storage.items():
                accounts.set_storage(address, slot, value)
        accounts.persist()
        commitments = receipt_commitments([], [])
        header = Header(
            parent_hash=config.digest(),
            number=0,
            timestamp=0,
            beneficiary=b"\x00" * 20,
            state_root=bytes(accounts.state_root),
            transactions_root=transactions_root([]),
            receipts_root=commitments.receipts_root,
            logs_bloom=commitments.logs_bloom,
            op_receipts_root=commitments.op_receipts_root,
            rwset_hash=rwset_hash(block_rwset_encoding([])),
            groups_hash=groups_hash(groups_encoding([], [])),
            gas_used=0,
            gas_limit=config.gas_limit,
            base_fee=0,
        )
        return cls(db, config, header, (header.hash,))

    def next_env(self, coinbase: bytes, timestamp: int | None = None) -> BlockEnv:
        """Environment of the block after the head (timestamp defaults to head + 1)."""
        return BlockEnv(
            number=self.head.number + 1,
            timestamp=self.head.timestamp + 1 if timestamp is None else timestamp,
            coinbase=coinbase,
            gas_limit=self.config.gas_limit,
            base_fee=next_base_fee(self.head, self.config),
            chain_id=self.config.chain_id,
            prev_hashes=self.ancestors,
            fork=self.config.fork,
            gas=self.config.gas,
        )

    def env_of(self, header: Header) -> BlockEnv:
        """Environment that the child block ``header`` declares, on top of this state."""
        return replace(
            self.next_env(header.beneficiary, header.timestamp),
            gas_limit=header.gas_limit,
            base_fee=header.base_fee,
        )

    def account_db(self) -> AccountDB:
        """A fresh, plain py-evm account database at the head's state root."""
        return AccountDB(self.db, Hash32(self.head.state_root))

    def recording_state(self, env: BlockEnv) -> Any:
        """The fork's recording state on this state, for executing the block ``env``."""
        return env.recording_state(self.db, self.head.state_root)

    def reference_state(self, env: BlockEnv) -> Any:
        """py-evm's unmodified state class on this state: the serial baseline."""
        return env.reference_state(self.db, self.head.state_root)

    def advance(self, header: Header) -> "ChainState":
        """The state after ``header``, whose state root is already in ``db``."""
        ancestors = (header.hash, *self.ancestors)[:MAX_ANCESTORS]
        return replace(self, head=header, ancestors=ancestors)
