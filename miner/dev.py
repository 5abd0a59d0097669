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

from typing import Annotated, Any

from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from common.chain.accounts import Wallet, dev_accounts
from common.encoding.untrusted import load_json
from common.evm.forks import decode_transaction
from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params
from common.rpc.eth import EthApi
from common.rpc.fill import filled
from common.rpc.hexcodec import parse_address, parse_quantity, to_data, to_quantity
from common.rpc.namespace import Namespace, method
from common.rpc.params import Address, Data, Parsed, Raw
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


def _number(value: Any, name: str) -> int:
    """A non-negative integer given as JSON number or hex quantity (tools send both)."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**63:
        return value
    return parse_quantity(value, name, limit=2**63 - 1)


Number = Annotated[int, Parsed(_number)]
"""A non-negative integer as a JSON number or a hex quantity."""


class DevApi(Namespace):
    """The dev namespace over a miner and its Ethereum API."""

    def __init__(self, node: MinerNode, eth: EthApi) -> None:
        self.node = node
        self.eth = eth
        alloc = node.settings.genesis.alloc
        self.wallets = {w.address: w for w in dev_accounts(DEV_ACCOUNTS) if w.address in alloc}

    @method("eth_accounts")
    def accounts(self) -> list[str]:
        """The funded development accounts this node signs for."""
        return [to_data(a) for a in self.wallets]

    # -- signing -----------------------------------------------------------------------

    def _wallet(self, address: bytes) -> Wallet:
        wallet = self.wallets.get(address)
        if wallet is None:
            raise RpcError(SERVER_ERROR, "unknown account")
        return wallet

    def _signed(self, request: Any) -> bytes:
        if not isinstance(request, dict) or "from" not in request:
            raise invalid_params("invalid argument 0: transaction object with from expected")
        wallet = self._wallet(parse_address(request["from"], "from"))
        tx = filled(self.eth, request, wallet.address)
        return bytes(Account.sign_transaction(tx, wallet.key).raw_transaction)

    @method("eth_signTransaction")
    def sign_transaction(self, request: Raw) -> dict[str, Any]:
        """The signed transaction, raw and decoded (go-ethereum's answer), not sent."""
        raw = self._signed(request)
        return {
            "raw": to_data(raw),
            "tx": tx_json(decode_transaction(raw), self.eth.config.chain_id, None, None),
        }

    @method("eth_sendTransaction")
    def send_transaction(self, request: Raw) -> str:
        return self.eth.send_raw_transaction(self._signed(request))

    @method("eth_sign")
    def sign(self, address: Address, data: Data) -> str:
        """EIP-191 ``personal_sign`` of ``data`` by ``address`` (geth's eth_sign)."""
        wallet = self._wallet(address)
        message = encode_defunct(primitive=data)
        return to_data(bytes(Account.sign_message(message, wallet.key).signature))

    @method("eth_signTypedData_v4")
    def sign_typed_data(self, address: Address, typed: Raw) -> str:
        """EIP-712 signature of typed data (an object, or its JSON text as MetaMask sends)."""
        wallet = self._wallet(address)
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

    @method("evm_mine")
    def mine(self, options: Raw = None) -> str:
        """One block now, with whatever is executable (none: an empty block); the
        option is its timestamp, alone or as ``{"timestamp": ...}``."""
        timestamp = options.get("timestamp") if isinstance(options, dict) else options
        if timestamp is not None:
            self.set_next_timestamp(_number(timestamp, "timestamp"))
        self.node.mine_now()
        return "0x0"

    @method("evm_setAutomine")
    def set_automine(self, enabled: Raw) -> bool:
        if not isinstance(enabled, bool):
            raise invalid_params("invalid argument 0: boolean expected")
        self.node.mining.automine = enabled
        self.node.wake()
        return True

    @method("evm_setIntervalMining")
    def set_interval_mining(self, interval: Number) -> bool:
        """Mine every ``interval`` milliseconds; 0 stops interval mining."""
        self.node.mining.interval = interval / 1000 if interval else None
        self.node.wake()
        return True

    @method("evm_increaseTime")
    def increase_time(self, seconds: Number) -> str:
        if seconds > MAX_TIME_STEP:
            raise invalid_params(f"invalid argument 0: at most {MAX_TIME_STEP} seconds")
        self.node.mining.offset += seconds
        return to_quantity(self.node.mining.offset)

    @method("evm_setNextBlockTimestamp")
    def set_next_timestamp(self, timestamp: Number) -> None:
        with self.node.lock:
            head = self.node.state.head.timestamp
        if timestamp <= head:
            raise invalid_params(
                f"timestamp {timestamp} is not after the head block's timestamp {head}"
            )
        self.node.mining.next_timestamp = timestamp
