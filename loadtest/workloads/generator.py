"""Signed, funded transactions for any workload, with nonces tracked locally.

One :class:`TxGenerator` serves a benchmark (blocks built in-process), ``pavm bench
network`` and every locust user (transactions sent over JSON-RPC). ``setup`` returns
the batches that must be mined, in order, before the workload runs: ETH funding from a
dev account (when genesis did not fund the senders), the contract's deployment, token
distribution, the table of the key-value store, self-approvals for ``transferFrom``.

Conflicts: at conflict rate ``p`` a transaction writes the workload's hot key (or pays
the hot receiver) with probability ``p``, else its sender's own key; with a group size
``g`` the i-th transaction writes key ``1 + i // g`` instead, so the block splits into
groups of exactly ``g`` dependent transactions (Fig. 17b).
"""

import random
from collections.abc import Sequence

from eth_hash.auto import keccak

from common.chain.accounts import ETHER, GWEI, Wallet, contract_address, sign
from common.chain.state import ChainConfig
from loadtest.workloads.contracts import load
from loadtest.workloads.table import HOT_KEY, TxInput, Workload

HOT_RECEIVER = bytes(keccak(b"pavm-hot-receiver")[12:])
TOKENS_PER_SENDER = 10**24
DISTRIBUTE_CHUNK = 300
FILL_CHUNK = 300
"""Holders per ``distribute`` and entries per ``fill``: about 9M gas each, so a few fit
one 30M block."""


def _setup_gas(entries: int) -> int:
    """Gas limit of a setup call that writes ``entries`` fresh storage slots (22.1k gas
    each, plus loop and log costs): tight, so the miner packs several per block."""
    return 60_000 + 30_000 * entries


def _address(tag: bytes) -> bytes:
    return bytes(keccak(tag)[12:])


def parallel_gas(gas: int) -> int:
    """Gas limit of a parallel contract's transaction whose serial one needs ``gas``:
    the fork-join's own cost, and each sub-call getting an equal share of what is left
    (so the largest part must fit in its share), need room; only what is used is paid."""
    return 2 * gas + 100_000


class TxGenerator:
    """Transactions of one workload at one scale."""

    def __init__(
        self,
        workload: Workload,
        scale: int,
        config: ChainConfig,
        *,
        conflict_rate: float = 0.0,
        group_size: int = 0,
        seed: int = 0,
        contract: bytes | None = None,
        threads: int = 0,
    ) -> None:
        if not 0 <= conflict_rate <= 1:
            raise ValueError("conflict rate must be between 0 and 1")
        if group_size < 0:
            raise ValueError("group size must not be negative")
        if threads and workload.parallel_call is None:
            raise ValueError(f"{workload.name} has no parallel version (threads must be 0)")
        if not 0 <= threads <= 16:
            raise ValueError("threads must be 0 (the serial contract) to 16")
        if not 0 <= scale <= workload.max_scale:
            raise ValueError(
                f"{workload.name} takes scales 0..{workload.max_scale:,} (its contract's bound)"
            )
        if workload.gas(scale) > config.gas_limit:
            raise ValueError(
                f"{workload.name} at scale {scale} needs {workload.gas(scale):,} gas, "
                f"more than the block gas limit {config.gas_limit:,}"
            )
        self.workload = workload
        self.scale = scale
        self.config = config
        self.conflict_rate = conflict_rate
        self.group_size = group_size
        self.contract = contract
        self.threads = threads
        """0: the serial contract; T: its parallel version's T sub-calls per transaction."""
        self.nonces: dict[bytes, int] = {}
        """Next nonce of every account this generator has signed for."""
        self.max_fee = 100 * GWEI
        """Fee cap of every transaction signed from now on (raise it as base fees rise)."""
        self._rng = random.Random(seed)
        self._count = 0

    def _sign(self, wallet: Wallet, to: bytes | None, **fields: object) -> bytes:
        nonce = self.nonces.get(wallet.address, 0)
        self.nonces[wallet.address] = nonce + 1
        fields.setdefault("max_fee", self.max_fee)
        return sign(wallet, nonce, to, config=self.config, **fields)  # type: ignore[arg-type]

    def setup(
        self,
        deployer: Wallet,
        senders: Sequence[Wallet],
        funders: Sequence[Wallet] = (),
        funding: int = 10 * ETHER,
    ) -> list[list[bytes]]:
        """Batches to mine in order before the workload: :meth:`deploy` and
        :meth:`enroll` merged pairwise, each batch after the previous one is mined."""
        deploy = self.deploy(deployer)
        enroll = self.enroll(deployer, senders, funders, funding)
        batches = [
            [*(deploy[i] if i < len(deploy) else []), *(enroll[i] if i < len(enroll) else [])]
            for i in range(max(len(deploy), len(enroll)))
        ]
        return [batch for batch in batches if batch]

    def deploy(self, deployer: Wallet) -> list[list[bytes]]:
        """The contract's creation, then (for the key-value store) filling its table.

        ``deployer`` must be funded; set ``nonces`` first if it has sent before.
        """
        workload = self.workload
        if workload.contract is None:
            return []
        artifact = load(workload.contract)
        self.contract = contract_address(deployer.address, self.nonces.get(deployer.address, 0))
        args = (10**30,) if workload.contract == "erc20" else ()
        create = self._sign(deployer, None, data=artifact.deploy_data(*args), gas=5_000_000)
        fills = []
        if workload.table:
            size = max(workload.scales + workload.quick_scales + (self.scale,))
            for first in range(0, size, FILL_CHUNK):
                data = artifact.call_data("fill", first, min(FILL_CHUNK, size - first))
                gas = _setup_gas(min(FILL_CHUNK, size - first))
                fills.append(self._sign(deployer, self.contract, data=data, gas=gas))
        return [[create], fills] if fills else [[create]]

    def enroll(
        self,
        deployer: Wallet,
        senders: Sequence[Wallet],
        funders: Sequence[Wallet] = (),
        funding: int = 10 * ETHER,
    ) -> list[list[bytes]]:
        """What ``senders`` need once the contract exists: ``funding`` wei from
        ``funders`` in turn (none when genesis funds them; several keep each funder's
        pending nonces few, which pools limit), tokens from ``deployer`` (who holds
        the supply), and a self-approval for ``transferFrom``. Always two batches
        (either may be empty): the second needs the first and the deployment mined."""
        funds = []
        if funders:
            funds = [
                self._sign(funders[i % len(funders)], s.address, value=funding, gas=21_000)
                for i, s in enumerate(senders)
            ]
        workload = self.workload
        if workload.contract is None:
            return [funds]
        artifact = load(workload.contract)
        later: list[bytes] = []
        if workload.tokens:
            holders = ["0x" + s.address.hex() for s in senders]
            for first in range(0, len(holders), DISTRIBUTE_CHUNK):
                chunk = holders[first : first + DISTRIBUTE_CHUNK]
                data = artifact.call_data("distribute", chunk, TOKENS_PER_SENDER)
                later.append(
                    self._sign(deployer, self.contract, data=data, gas=_setup_gas(len(chunk)))
                )
        if workload.approve_self:
            for s in senders:
                data = artifact.call_data("approve", "0x" + s.address.hex(), 2**255)
                later.append(self._sign(s, self.contract, data=data, gas=80_000))
        return [funds, later]

    def _input(self, sender: Wallet) -> TxInput:
        index = self._count
        self._count += 1
        own = _address(b"pavm-receiver" + sender.address)
        if self.group_size:
            group = 1 + index // self.group_size
            key, receiver = group, _address(b"pavm-group" + group.to_bytes(8, "big"))
        elif self._rng.random() < self.conflict_rate:
            key, receiver = HOT_KEY, HOT_RECEIVER
        else:
            key, receiver = int.from_bytes(sender.address, "big"), own
        return TxInput(
            self.scale, key, index + 1, "0x" + sender.address.hex(), "0x" + receiver.hex()
        )

    def next(self, sender: Wallet) -> bytes:
        """The sender's next workload transaction, signed with its next nonce."""
        tx = self._input(sender)
        gas = self.workload.gas(self.scale)
        if self.workload.contract is None:
            return self._sign(sender, bytes.fromhex(tx.receiver[2:]), value=1000, gas=gas)
        if self.contract is None:
            raise RuntimeError("no contract: run setup() first or pass contract=")
        if self.threads:
            data = self.workload.parallel_call_data(tx, self.threads)
            return self._sign(sender, self.contract, data=data, gas=parallel_gas(gas))
        return self._sign(sender, self.contract, data=self.workload.call_data(tx), gas=gas)

    def block(self, senders: Sequence[Wallet]) -> list[bytes]:
        """One transaction from each sender, numbered from 0 within the block, so that
        group ``g`` of the block is exactly its transactions ``g*size .. g*size+size-1``."""
        self._count = 0
        return [self.next(s) for s in senders]
