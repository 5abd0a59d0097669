"""JSON-RPC error objects, with the codes Ethereum clients expect."""

from dataclasses import dataclass
from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000
"""go-ethereum's code for transaction and execution errors ("nonce too low", ...)."""
EXECUTION_REVERTED = 3
"""A reverting eth_call/eth_estimateGas: "execution reverted", revert data in ``data``."""
RESPONSE_TOO_LARGE = -32003


@dataclass
class RpcError(Exception):
    """An error answered to the client as a JSON-RPC error object."""

    code: int
    message: str
    data: Any = None

    def to_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(message: str) -> RpcError:
    return RpcError(INVALID_PARAMS, message)
