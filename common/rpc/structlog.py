"""go-ethereum's opcode (struct) logger, the default tracer of ``debug_trace*``: one
entry per executed opcode with its pc, name, gas before it, its cost, call depth,
the refund counter, and (unless disabled) the stack, the storage seen at SLOAD and
SSTORE, and (when enabled) memory and the last return data.

It observes py-evm's own opcodes through :func:`common.rpc.timed_call.observed`. At most
``MAX_STEPS`` entries are kept (or the request's smaller ``limit``); execution goes
on past them, as geth's ``limit`` does.
"""

from typing import Any

from eth.exceptions import VMError

from common.rpc.errors import SERVER_ERROR, RpcError, invalid_params

MAX_STEPS = 100_000
"""Struct-log entries one trace keeps at most."""
MAX_WORDS = 200_000
"""Stack items and memory words one trace may copy in all (about 15 MB of JSON): a
deep stack or a large memory at every step would otherwise fill the node's memory."""
OPTIONS = ("disableStack", "disableStorage", "enableMemory", "enableReturnData", "debug")


def _word(value: Any) -> int:
    return value if isinstance(value, int) else int.from_bytes(value, "big")


def _hex32(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


class StructLogger:
    """A :class:`common.rpc.timed_call.StepObserver` that records geth's struct logs."""

    def __init__(self, options: dict[str, Any]) -> None:
        for name in OPTIONS:
            if name in options and not isinstance(options[name], bool):
                raise invalid_params(f"invalid argument 1: {name} must be a boolean")
        limit = options.get("limit") or 0
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise invalid_params("invalid argument 1: limit must be a non-negative integer")
        self.limit = min(limit or MAX_STEPS, MAX_STEPS)
        self.stack = not options.get("disableStack")
        self.storage = not options.get("disableStorage")
        self.memory = options.get("enableMemory") is True
        self.return_data = options.get("enableReturnData") is True
        self.logs: list[dict[str, Any]] = []
        self.words = 0
        self._slots: dict[bytes, dict[int, int]] = {}

    def step(self, opcode: Any, computation: Any) -> None:
        if len(self.logs) >= self.limit or not computation.msg.code:
            # Past the limit, or the implicit STOP of a call to an account without
            # code, which geth does not log.
            opcode(computation=computation)
            return
        gas = computation.get_gas_remaining()
        entry: dict[str, Any] = {
            "pc": computation.code.program_counter - 1,
            "op": opcode.mnemonic,
            "gas": gas,
            "gasCost": 0,
            "depth": computation.msg.depth + 1,
            "refund": computation.get_gas_refund(),
        }
        values = computation._stack.values
        self.words += (len(values) if self.stack else 0) + (
            len(computation._memory._bytes) // 32 if self.memory else 0
        )
        if self.words > MAX_WORDS:
            raise RpcError(
                SERVER_ERROR,
                f"trace too large: over {MAX_WORDS} stack and memory words; "
                "use limit, disableStack or leave enableMemory off",
            )
        if self.stack:
            entry["stack"] = [hex(_word(v)) for v in values]
        if self.memory:
            memory = bytes(computation._memory._bytes)
            entry["memory"] = ["0x" + memory[i : i + 32].hex() for i in range(0, len(memory), 32)]
        if self.return_data:
            entry["returnData"] = "0x" + bytes(computation.return_data).hex()
        watched = self.storage and opcode.mnemonic in ("SLOAD", "SSTORE") and values
        slot = _word(values[-1]) if watched else None
        self.logs.append(entry)
        try:
            opcode(computation=computation)
        except VMError as exc:
            entry["error"] = str(exc) or type(exc).__name__
            raise
        finally:
            entry["gasCost"] = max(0, gas - computation.get_gas_remaining())
        if slot is not None:
            address = bytes(computation.msg.storage_address)
            seen = self._slots.setdefault(address, {})
            seen[slot] = computation.state.get_storage(computation.msg.storage_address, slot)
            entry["storage"] = {_hex32(k): _hex32(v) for k, v in sorted(seen.items())}
