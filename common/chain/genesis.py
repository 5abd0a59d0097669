"""Genesis specifications: chain parameters and prefunded accounts, from a JSON file.

Without a file, a chain has id 31337 and gives each of the first 10 accounts of the
standard development mnemonic (the one anvil and hardhat use) 1,000,000 ETH, so any
Ethereum tool configured for a local dev chain works unchanged. The file format::

    {"chainId": 31337, "gasLimit": 30000000, "baseFee": 1000000000, "fork": "pavm",
     "alloc": {"0xf39f...": {"balance": "0x...", "nonce": "0x0", "code": "0x",
                             "storage": {"0x0": "0x1"}}}}

``fork`` is "pavm" (the default: Prague with pavm's instructions and fork-join
precompile) or "prague" (py-evm's Prague alone).
"""

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from common.chain.accounts import dev_accounts
from common.chain.state import ChainConfig, GenesisAccount
from common.errors import PavmError
from common.evm.forks import FORKS
from common.evm.gas_schedule import load_gas_schedule

DEV_BALANCE = 1_000_000 * 10**18


@dataclass(frozen=True)
class GenesisSpec:
    config: ChainConfig
    alloc: dict[bytes, GenesisAccount]


def default_genesis() -> GenesisSpec:
    alloc = {a.address: GenesisAccount(balance=DEV_BALANCE) for a in dev_accounts()}
    return GenesisSpec(ChainConfig(), alloc)


def _int(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        try:
            number = int(value, 16) if value.startswith("0x") else int(value)
        except ValueError:
            pass
        else:
            if number >= 0:
                return number
    raise PavmError(f"genesis: {where} must be a non-negative integer, got {value!r}")


def _bytes(value: Any, where: str, size: int | None = None) -> bytes:
    try:
        data = bytes.fromhex(value.removeprefix("0x"))
    except (AttributeError, ValueError):
        raise PavmError(f"genesis: {where} must be 0x-prefixed hex, got {value!r}") from None
    if size is not None and len(data) != size:
        raise PavmError(f"genesis: {where} must be {size} bytes")
    return data


def _fork(value: Any) -> str:
    if value not in FORKS:
        raise PavmError(f"genesis: fork must be one of {', '.join(FORKS)}, got {value!r}")
    return str(value)


def parse_genesis(data: Any) -> GenesisSpec:
    """A genesis spec from decoded JSON, with an error naming the first bad field."""
    if not isinstance(data, dict):
        raise PavmError("genesis: top level must be an object")
    defaults = ChainConfig()
    config = ChainConfig(
        chain_id=_int(data.get("chainId", defaults.chain_id), "chainId"),
        gas_limit=_int(data.get("gasLimit", defaults.gas_limit), "gasLimit"),
        initial_base_fee=_int(data.get("baseFee", defaults.initial_base_fee), "baseFee"),
        fork=_fork(data.get("fork", defaults.fork)),
    )
    raw_alloc = data.get("alloc")
    if raw_alloc is None:
        return GenesisSpec(config, default_genesis().alloc)
    if not isinstance(raw_alloc, dict):
        raise PavmError("genesis: alloc must be an object of address -> account")
    alloc = {}
    for key, account in raw_alloc.items():
        address = _bytes(key, f"alloc address {key}", 20)
        if not isinstance(account, dict):
            raise PavmError(f"genesis: alloc {key} must be an object")
        storage = account.get("storage", {})
        if not isinstance(storage, dict):
            raise PavmError(f"genesis: alloc {key} storage must be an object")
        alloc[address] = GenesisAccount(
            balance=_int(account.get("balance", 0), f"alloc {key} balance"),
            nonce=_int(account.get("nonce", 0), f"alloc {key} nonce"),
            code=_bytes(account.get("code", "0x"), f"alloc {key} code"),
            storage={
                _int(s, f"alloc {key} storage slot"): _int(v, f"alloc {key} storage value")
                for s, v in storage.items()
            },
        )
    return GenesisSpec(config, alloc)


def load_genesis(path: Path | None, gas_schedule: Path | None = None) -> GenesisSpec:
    """The spec in ``path`` (the development default when ``None``), with the gas of
    the schedule file ``gas_schedule`` (``common/evm/pavm_gas.json`` when ``None``)."""
    spec = _load_genesis(path)
    config = replace(spec.config, gas=load_gas_schedule(gas_schedule))
    return GenesisSpec(config, spec.alloc)


def _load_genesis(path: Path | None) -> GenesisSpec:
    if path is None:
        return default_genesis()
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise PavmError(f"genesis file {path} does not exist") from None
    except ValueError as exc:
        raise PavmError(f"genesis file {path} is not valid JSON: {exc}") from None
    return parse_genesis(data)
