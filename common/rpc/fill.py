"""Filling in a transaction request as a wallet does: chain id, pending nonce,
estimated gas and fees from the next block's base fee. ``eth_fillTransaction``
answers with it; on a dev network ``eth_sendTransaction`` and ``eth_signTransaction``
sign it (``miner/dev.py``)."""

from typing import Any, Protocol

from eth_utils import to_checksum_address

from common.rpc.errors import invalid_params
from common.rpc.hexcodec import (
    parse_address,
    parse_data,
    parse_fixed,
    parse_quantity,
    to_data,
    to_quantity,
)

SUGGESTED_TIP = 10**9
"""The priority fee suggested to wallets (eth_maxPriorityFeePerGas)."""
MAX_ACCESS_ENTRIES = 1_000
"""Addresses, and storage keys per address, one access list may name."""


class Chain(Protocol):
    """What filling needs of a node's Ethereum API."""

    @property
    def config(self) -> Any: ...

    def next_base_fee(self) -> int: ...

    def get_transaction_count(self, address: bytes, block: int | str | bytes) -> str: ...

    def estimate_gas(self, call: Any) -> int: ...


def filled(eth: Chain, request: dict[str, Any], sender_address: bytes) -> dict[str, Any]:
    """The request with what a wallet fills in: chain id, pending nonce, estimated
    gas, and fees from the next block's base fee (legacy when it names gasPrice)."""
    config = eth.config
    chain_id = request.get("chainId")
    if chain_id is not None and parse_quantity(chain_id, "chainId") != config.chain_id:
        raise invalid_params(f"chainId does not match this chain ({config.chain_id})")
    sender = "0x" + sender_address.hex()
    tx: dict[str, Any] = {
        "chainId": config.chain_id,
        "value": parse_quantity(request.get("value") or "0x0", "value"),
        "data": parse_data(request.get("input") or request.get("data") or "0x", "input"),
    }
    if request.get("to"):
        tx["to"] = to_checksum_address(parse_address(request["to"], "to"))
    if request.get("nonce") is not None:
        tx["nonce"] = parse_quantity(request["nonce"], "nonce", limit=2**64 - 1)
    else:
        tx["nonce"] = int(eth.get_transaction_count(sender_address, "pending"), 16)
    if request.get("gas") is not None:
        tx["gas"] = parse_quantity(request["gas"], "gas", limit=2**64 - 1)
    else:
        call = {k: v for k, v in request.items() if k in ("to", "value", "input", "data")}
        tx["gas"] = eth.estimate_gas({**call, "from": sender})
    if request.get("gasPrice") is not None:
        tx["gasPrice"] = parse_quantity(request["gasPrice"], "gasPrice")
    else:
        base_fee = eth.next_base_fee()
        tip = parse_quantity(request.get("maxPriorityFeePerGas") or hex(SUGGESTED_TIP), "tip")
        cap = request.get("maxFeePerGas")
        tx["maxPriorityFeePerGas"] = tip
        tx["maxFeePerGas"] = (
            parse_quantity(cap, "maxFeePerGas") if cap is not None else 2 * base_fee + tip
        )
    if request.get("accessList") is not None:
        tx["accessList"] = access_list(request["accessList"])
    return tx


def access_list(value: Any) -> list[dict[str, Any]]:
    """An EIP-2930 access list, checked: ``[{address, storageKeys: [32-byte keys]}]``."""
    if not isinstance(value, list) or len(value) > MAX_ACCESS_ENTRIES:
        raise invalid_params(
            f"invalid argument 0: accessList must be a list of at most {MAX_ACCESS_ENTRIES}"
        )
    out = []
    for entry in value:
        if not isinstance(entry, dict) or not isinstance(entry.get("storageKeys", []), list):
            raise invalid_params(
                "invalid argument 0: accessList entries are {address, storageKeys}"
            )
        keys = entry.get("storageKeys", [])
        if len(keys) > MAX_ACCESS_ENTRIES:
            raise invalid_params(f"invalid argument 0: at most {MAX_ACCESS_ENTRIES} storage keys")
        out.append(
            {
                "address": to_checksum_address(parse_address(entry.get("address"), "address")),
                "storageKeys": [to_data(parse_fixed(k, "storageKey", 32)) for k in keys],
            }
        )
    return out


def unsigned_json(tx: dict[str, Any]) -> dict[str, Any]:
    """A filled request as the spec's unsigned transaction object."""
    out: dict[str, Any] = {
        "type": "0x0" if "gasPrice" in tx else "0x2",
        "chainId": to_quantity(tx["chainId"]),
        "nonce": to_quantity(tx["nonce"]),
        "to": tx.get("to", "").lower() or None,
        "gas": to_quantity(tx["gas"]),
        "value": to_quantity(tx["value"]),
        "input": to_data(tx["data"]),
    }
    if "gasPrice" in tx:
        out["gasPrice"] = to_quantity(tx["gasPrice"])
        return out
    out["maxFeePerGas"] = to_quantity(tx["maxFeePerGas"])
    out["maxPriorityFeePerGas"] = to_quantity(tx["maxPriorityFeePerGas"])
    out["gasPrice"] = out["maxFeePerGas"]
    out["accessList"] = tx.get("accessList", [])
    return out
