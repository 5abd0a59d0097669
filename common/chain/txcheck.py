"""Checks a transaction must pass to enter a block, with go-ethereum's error wording.

Clients such as web3.py and ethers match on these messages, so the miner's skip
reasons (and later the transaction pool's JSON-RPC errors) use them verbatim.
"""

from eth.abc import SignedTransactionAPI
from eth_keys.exceptions import BadSignature
from eth_utils import ValidationError

from common.errors import InvalidTransaction, TransactionDeferred
from common.evm.forks import decode_transaction


def decode_checked(raw: bytes, chain_id: int) -> SignedTransactionAPI:
    """Decode ``raw`` and check what needs no state: encoding, signature, chain, gas floor."""
    try:
        tx = decode_transaction(raw)
    except ValueError as exc:
        raise InvalidTransaction(f"rlp: undecodable transaction: {exc}") from exc
    tx_chain = getattr(tx, "chain_id", None)
    if tx_chain != chain_id:
        raise InvalidTransaction(f"invalid chain id for signer: have {tx_chain} want {chain_id}")
    try:
        tx.check_signature_validity()
        _ = tx.sender
    except (ValidationError, BadSignature) as exc:
        raise InvalidTransaction("invalid sender") from exc
    if tx.gas < tx.intrinsic_gas:
        raise InvalidTransaction(f"intrinsic gas too low: have {tx.gas}, want {tx.intrinsic_gas}")
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        raise InvalidTransaction(
            "max priority fee per gas higher than max fee per gas: "
            f"tip {tx.max_priority_fee_per_gas}, fee cap {tx.max_fee_per_gas}"
        )
    try:
        tx.validate()
    except ValidationError as exc:
        raise InvalidTransaction(f"invalid transaction: {exc}") from exc
    return tx


def check_against_state(
    tx: SignedTransactionAPI, nonce: int, balance: int, base_fee: int, gas_left: int
) -> None:
    """Check ``tx`` against its sender's account and the block being built.

    Raises TransactionDeferred when only this block is the problem (room, base fee).
    """
    if tx.gas > gas_left:
        raise TransactionDeferred(f"exceeds block gas limit: tx gas {tx.gas}, room {gas_left}")
    if tx.max_fee_per_gas < base_fee:
        raise TransactionDeferred(
            f"max fee per gas less than block base fee: address 0x{tx.sender.hex()}, "
            f"maxFeePerGas: {tx.max_fee_per_gas}, baseFee: {base_fee}"
        )
    check_nonce_and_funds(tx, nonce, balance)


def check_nonce_and_funds(
    tx: SignedTransactionAPI, nonce: int, balance: int, max_ahead: int = 0
) -> None:
    """The sender's next nonce is ``nonce`` (a pool may hold up to ``max_ahead`` more)
    and ``balance`` must cover gas at the fee cap plus value."""
    if tx.nonce < nonce:
        raise InvalidTransaction(f"nonce too low: next nonce {nonce}, tx nonce {tx.nonce}")
    if tx.nonce > nonce + max_ahead:
        raise InvalidTransaction(f"nonce too high: next nonce {nonce}, tx nonce {tx.nonce}")
    cost = tx.gas * tx.max_fee_per_gas + tx.value
    if balance < cost:
        raise InvalidTransaction(
            f"insufficient funds for gas * price + value: balance {balance}, "
            f"tx cost {cost}, overshot {cost - balance}"
        )
