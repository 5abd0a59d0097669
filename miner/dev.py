"""Development conveniences of a dev network (``--dev``), all of which keep every
validator in agreement: they only sign transactions with the public development
keys, choose when blocks are mined and with which timestamps.

- ``eth_accounts``: the funded development accounts.
- ``eth_sendTransaction``, ``eth_signTransaction``, ``eth_sign`` (EIP-191),
  ``eth_signTypedData_v4`` (EIP-712): signed with those accounts' keys; missing
  fields are filled as a wallet would (pending nonce, estimated gas, current fees).
- ``evm_mine`` (a block now, empty if nothing waits), ``evm_setAutomine`` (a block per
  transaction), ``evm_setIntervalMining``, ``evm_increaseTime``,
  ``evm_setNextBlockTimestamp``: validators only require timestamps to advance.

What would change state outside a transaction (snapshots, reverts, setting balances,
code or storage, impersonation) cannot be re-executed by validators, so it is
refused with -32601 and the reason (:data:`REFUSED`).
"""

from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from common.chain.accounts import Wallet, dev_accounts
from common.encoding.untrusted import load_json
from common.evm.forks import decode_transaction
from common.rpc.dispatch import Handler, expect_params
from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from common.rpc.eth import EthApi
from common.rpc.fill import filled
from common.rpc.hexcodec import parse_address, parse_data, parse_quantity, to_data, to_quantity
from common.rpc.views import tx_json
from miner.node import MinerNode

DEV_ACCOUNTS = 20
"""Development accounts looked for among the genesis allocations."""
MAX_TIME_STEP = 10 * 365 * 24 * 3600
"""Seconds one evm_increaseTime may add (ten years)."""
_UNREPLAYABLE = (
    "changes state outside a transaction, which validators cannot re-execute "
    "(they would disagree with the miner)"
)
REFUSED = {
    name: f"{name} is not offered: it {why}"
    for names, why in (
        (("evm_snapshot", "evm_revert", "anvil_snapshot", "anvil_revert"), _UNREPLAYABLE),
        (
            tuple(
                f"{prefix}_{verb}"
                for prefix in ("anvil", "hardhat")
                for verb in ("setBalance", "setCode", "setNonce", "setStorageAt", "reset")
            ),
            _UNREPLAYABLE,
        ),
        (
            tuple(
                f"{prefix}_{verb}"
                for prefix in ("anvil", "hardhat")
                for verb in ("impersonateAccount", "stopImpersonatingAccount")
            ),
            "would let a transaction run without its sender's signature, which validators check",
        ),
    )
    for name in names
}


class DevApi:
    """The dev namespace over a miner and its Ethereum API."""

    def __init__(self, node: MinerNode, eth: EthApi) -> None:
        self.node = node
        self.eth = eth
        alloc = node.settings.genesis.alloc
        self.wallets = {w.address: w for w in dev_accounts(DEV_ACCOUNTS) if w.address in alloc}

    def methods(self) -> dict[str, Handler]:
        return {
            "eth_accounts": lambda p: [to_data(a) for a in self.wallets],
            "eth_sendTransaction": self.send_transaction,
            "eth_signTransaction": self.sign_transaction,
            "eth_sign": self.sign,
            "eth_signTypedData_v4": self.sign_typed_data,
            "evm_mine": self.mine,
            "evm_setAutomine": self.set_automine,
            "evm_setIntervalMining": self.set_interval_mining,
            "evm_increaseTime": self.increase_time,
            "evm_setNextBlockTimestamp": self.set_next_timestamp,
        }

    # -- signing -----------------------------------------------------------------------

    def _wallet(self, value: Any, name: str = "from") -> Wallet:
        address = parse_address(value, name)
        wallet = self.wallets.get(address)
        if wallet is None:
            raise RpcError(SERVER_ERROR, "unknown account")
        return wallet

    def _signed(self, params: list[Any]) -> bytes:
        (request,) = expect_params(params, 1)
        if not isinstance(request, dict) or "from" not in request:
            raise invalid_params("invalid argument 0: transaction object with from expected")
        wallet = self._wallet(request["from"])
        tx = filled(self.eth, request, wallet.address)
        return bytes(Account.sign_transaction(tx, wallet.key).raw_transaction)

    def sign_transaction(self, params: list[Any]) -> dict[str, Any]:
        """The signed transaction, raw and decoded (go-ethereum's answer), not sent."""
        raw = self._signed(params)
        return {
            "raw": to_data(raw),
            "tx": tx_json(decode_transaction(raw), self.eth.config.chain_id, None, None),
        }

    def send_transaction(self, params: list[Any]) -> str:
        return str(self.eth.send_raw_transaction([to_data(self._signed(params))]))

    def sign(self, params: list[Any]) -> str:
        """EIP-191 ``personal_sign`` of ``data`` by ``address`` (geth's eth_sign)."""
        address, data = expect_params(params, 2)
        wallet = self._wallet(address, "address")
        message = encode_defunct(primitive=parse_data(data, "data"))
        return to_data(bytes(Account.sign_message(message, wallet.key).signature))

    def sign_typed_data(self, params: list[Any]) -> str:
        """EIP-712 signature of typed data (an object, or its JSON text as MetaMask sends)."""
        address, typed = expect_params(params, 2)
        wallet = self._wallet(address, "address")
        if isinstance(typed, str):
            try:
                typed = load_json(typed.encode())
            except ValueError as exc:
                raise invalid_params(f"invalid argument 1: {exc}") from None
        if not isinstance(typed, dict):
            raise invalid_params("invalid argument 1: typed data object expected")
        try:
            message = encode_typed_data(full_message=typed)
        except Exception as exc:  # noqa: BLE001 - eth-account raises many kinds
            raise invalid_params(f"invalid argument 1: typed data: {exc}") from None
        return to_data(bytes(Account.sign_message(message, wallet.key).signature))

    # -- mining ----------------------------------------------------------------------

    def mine(self, params: list[Any]) -> str:
        """One block now, with whatever is executable (none: an empty block)."""
        (timestamp,) = expect_params(params, 0, 1)
        if isinstance(timestamp, dict):
            timestamp = timestamp.get("timestamp")
        if timestamp is not None:
            self.set_next_timestamp([timestamp])
        self.node.mine_now()
        return "0x0"

    def set_automine(self, params: list[Any]) -> bool:
        (enabled,) = expect_params(params, 1)
        if not isinstance(enabled, bool):
            raise invalid_params("invalid argument 0: boolean expected")
        self.node.mining.automine = enabled
        self.node.wake()
        return True

    def set_interval_mining(self, params: list[Any]) -> bool:
        """Mine every ``ms`` milliseconds; 0 stops interval mining."""
        (ms,) = expect_params(params, 1)
        ms = _number(ms, "interval")
        self.node.mining.interval = ms / 1000 if ms else None
        self.node.wake()
        return True

    def increase_time(self, params: list[Any]) -> str:
        (seconds,) = expect_params(params, 1)
        seconds = _number(seconds, "seconds")
        if seconds > MAX_TIME_STEP:
            raise invalid_params(f"invalid argument 0: at most {MAX_TIME_STEP} seconds")
        self.node.mining.offset += seconds
        return to_quantity(self.node.mining.offset)

    def set_next_timestamp(self, params: list[Any]) -> None:
        (timestamp,) = expect_params(params, 1)
        timestamp = _number(timestamp, "timestamp")
        with self.node.lock:
            head = self.node.state.head.timestamp
        if timestamp <= head:
            raise invalid_params(
                f"timestamp {timestamp} is not after the head block's timestamp {head}"
            )
        self.node.mining.next_timestamp = timestamp


def _number(value: Any, name: str) -> int:
    """A non-negative integer given as JSON number or hex quantity (tools send both)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return parse_quantity(value, name, limit=2**63 - 1)
