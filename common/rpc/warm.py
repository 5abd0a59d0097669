"""Watching which addresses and storage slots a py-evm state makes warm (EIP-2929):
what an access list should name, and what a prestate trace must show."""

from typing import Any

from eth_typing import Address

Touched = set[tuple[bytes, int | None]]
"""(address, slot) pairs; slot ``None`` stands for the account itself."""


def record_warm(state: Any, touched: Touched) -> None:
    """Make ``state`` add to ``touched`` every address and slot it marks warm, in
    reverted frames too (where the mark itself is undone), as geth's tracers see them."""
    db = state._account_db
    mark_address, mark_storage = db.mark_address_warm, db.mark_storage_warm

    def address_warm(address: Address) -> None:
        touched.add((bytes(address), None))
        mark_address(address)

    def storage_warm(address: Address, slot: int) -> None:
        touched.add((bytes(address), slot))
        mark_storage(address, slot)

    db.mark_address_warm, db.mark_storage_warm = address_warm, storage_warm
