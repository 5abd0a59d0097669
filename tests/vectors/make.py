"""Regenerate the golden vectors (run only when an encoding changes on purpose):
``python -m tests.vectors.make``. The tests compare against the committed JSON."""

import json
from pathlib import Path

from common.chain.block import Block, Header
from common.chain.rwset import (
    BALANCE,
    CODE,
    EXISTS,
    NONCE,
    STORAGE_WIPED,
    WIPED,
    AccountWrite,
    TxRWSet,
    block_rwset_encoding,
)

HERE = Path(__file__).parent
KEY = b"\x42" * 32


def sample_header() -> Header:
    return Header(
        parent_hash=bytes(range(32)),
        number=7,
        timestamp=1_700_000_000,
        beneficiary=b"\xab" * 20,
        state_root=b"\x01" * 32,
        transactions_root=b"\x02" * 32,
        receipts_root=b"\x03" * 32,
        logs_bloom=b"\x06" * 256,
        gas_used=21_000,
        gas_limit=30_000_000,
        base_fee=875_000_000,
        op_receipts_root=b"\x07" * 32,
        rwset_hash=b"\x04" * 32,
        groups_hash=b"\x05" * 32,
    ).signed_by(KEY)


def sample_rwsets() -> list[TxRWSet]:
    a, b, c = b"\x0a" * 20, b"\x0b" * 20, b"\x0c" * 20
    return [
        TxRWSet(
            reads={b: (2 | 4, ()), a: (8, (1, 5, 2**255))},
            writes={
                b: AccountWrite(BALANCE | NONCE | EXISTS, 10**18, 3),
                a: AccountWrite(0, storage={5: 0, 1: 7}),
            },
            reads_beneficiary=False,
        ),
        TxRWSet(
            reads={c: (1, ())},
            writes={
                c: AccountWrite(WIPED | STORAGE_WIPED | EXISTS | CODE, code=b"\x60\x00"),
            },
            reads_beneficiary=True,
        ),
    ]


def vectors() -> dict[str, str]:
    header = sample_header()
    rwsets = sample_rwsets()
    block = Block(header, (b"\x02\xf8", b"\x01"), tuple(rwsets), ((0,), (1,)), (21_000, 5))
    return {
        "empty_block": Block(header, (), (), (), ()).encode().hex(),
        "header_hash": header.hash.hex(),
        "rwsets": block_rwset_encoding(rwsets).hex(),
        "block": block.encode().hex(),
    }


if __name__ == "__main__":
    (HERE / "encodings.json").write_text(json.dumps(vectors(), indent=1, sort_keys=True) + "\n")
