"""A few lines of EVM assembly for tests: no compiler emits pavm's instructions, so
the tests write the contracts that use them by hand."""

from collections.abc import Sequence
from dataclasses import dataclass

from common.evm.instructions import BYTES

MNEMONICS = {
    "STOP": 0x00,
    "ADD": 0x01,
    "SUB": 0x03,
    "DUP1": 0x80,
    "SWAP1": 0x90,
    "JUMPI": 0x57,
    "JUMPDEST": 0x5B,
    "LOG0": 0xA0,
    "POP": 0x50,
    "MLOAD": 0x51,
    "MSTORE": 0x52,
    "SLOAD": 0x54,
    "SSTORE": 0x55,
    "CODECOPY": 0x39,
    "CALL": 0xF1,
    "GAS": 0x5A,
    "RETURN": 0xF3,
    "REVERT": 0xFD,
    "RETURNDATASIZE": 0x3D,
    "RETURNDATACOPY": 0x3E,
    "LOG1": 0xA1,
    **BYTES,
}


@dataclass(frozen=True)
class Data:
    """A push of the offset of ``blob`` in the data section after the code."""

    blob: bytes


Item = str | int | Data
"""A mnemonic, a number to push, or a :class:`Data` offset to push."""


def assemble(items: Sequence[Item]) -> bytes:
    """Bytecode for ``items``; every :class:`Data` blob is appended after the code."""
    code = bytearray()
    blobs: list[tuple[int, bytes]] = []
    for item in items:
        if isinstance(item, str):
            code.append(MNEMONICS[item])
        elif isinstance(item, Data):
            blobs.append((len(code) + 1, item.blob))
            code += b"\x61\x00\x00"  # PUSH2, patched below
        else:
            width = max(1, (item.bit_length() + 7) // 8)
            code.append(0x5F + width)
            code += item.to_bytes(width, "big")
    for where, blob in blobs:
        code[where : where + 2] = len(code).to_bytes(2, "big")
        code += blob
    return bytes(code)


def copy_to_memory(blob: bytes, offset: int) -> list[Item]:
    """CODECOPY ``blob`` from the data section to memory at ``offset``."""
    return [len(blob), Data(blob), offset, "CODECOPY"]
