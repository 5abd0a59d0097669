"""go-ethereum's ``txpool_*`` namespace over a miner's pool: ``txpool_status``,
``txpool_content``, ``txpool_contentFrom`` and ``txpool_inspect``.

"pending" transactions run next (their nonces follow the sender's account nonce
without a gap); "queued" ones wait behind a gap. Maps are keyed by address, then
by decimal nonce, as geth answers.
"""

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from eth.abc import SignedTransactionAPI

from common.rpc.hexcodec import to_data, to_quantity
from common.rpc.namespace import Namespace, method
from common.rpc.params import Address
from common.rpc.views import tx_json


class Waiting(Protocol):
    """One waiting transaction as the pool holds it."""

    @property
    def tx(self) -> SignedTransactionAPI: ...

    @property
    def sender(self) -> bytes: ...


class TxpoolApi(Namespace):
    """The namespace over ``content``: (transaction, pending?) for everything waiting."""

    def __init__(
        self, content: Callable[[], Sequence[tuple[Waiting, bool]]], chain_id: int
    ) -> None:
        self.content = content
        self.chain_id = chain_id

    @method("txpool_status")
    def status(self) -> dict[str, str]:
        waiting = self.content()
        pending = sum(1 for _, ready in waiting if ready)
        return {"pending": to_quantity(pending), "queued": to_quantity(len(waiting) - pending)}

    @method("txpool_content")
    def all_content(self) -> dict[str, Any]:
        return self._grouped(self._tx)

    @method("txpool_inspect")
    def inspect(self) -> dict[str, Any]:
        return self._grouped(_summary)

    def _grouped(self, show: Callable[[Waiting], Any]) -> dict[str, Any]:
        out: dict[str, dict[str, dict[str, Any]]] = {"pending": {}, "queued": {}}
        for entry, ready in self.content():
            by_nonce = out["pending" if ready else "queued"].setdefault(to_data(entry.sender), {})
            by_nonce[str(entry.tx.nonce)] = show(entry)
        return out

    def _tx(self, entry: Waiting) -> dict[str, Any]:
        return tx_json(entry.tx, self.chain_id, None, None)

    @method("txpool_contentFrom")
    def content_from(self, address: Address) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {"pending": {}, "queued": {}}
        for entry, ready in self.content():
            if entry.sender == address:
                out["pending" if ready else "queued"][str(entry.tx.nonce)] = self._tx(entry)
        return out


def _summary(entry: Waiting) -> str:
    """geth's one-line form: ``to: value wei + gas gas × price wei``."""
    tx = entry.tx
    to = to_data(tx.to) if tx.to else "contract creation"
    return f"{to}: {tx.value} wei + {tx.gas} gas × {tx.max_fee_per_gas} wei"
