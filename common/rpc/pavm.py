"""pavm's own JSON-RPC methods that read what a node records beside its chain."""

from typing import Any

from common.net.block_times import BlockTime, BlockTimes
from common.rpc.dispatch import Handler, expect_params
from common.rpc.errors import invalid_params
from common.rpc.hexcodec import parse_quantity, to_quantity

MAX_TIMES_RANGE = 256
"""Blocks one ``pavm_getBlockTimes`` call answers for."""


def block_times_method(times: BlockTimes) -> Handler:
    """``pavm_getBlockTimes(start, end)``: when blocks start..end (at most
    :data:`MAX_TIMES_RANGE`) were sealed, or arrived and were judged, oldest first;
    blocks not remembered are left out."""

    def handler(params: list[Any]) -> list[dict[str, Any]]:
        first, last = expect_params(params, 2)
        start = parse_quantity(first, "start", limit=2**63 - 1)
        end = parse_quantity(last, "end", limit=2**63 - 1)
        if end < start or end - start + 1 > MAX_TIMES_RANGE:
            raise invalid_params(f"need start <= end and at most {MAX_TIMES_RANGE} blocks")
        return [_time_json(entry) for entry in times.between(start, end)]

    return handler


def _time_json(entry: BlockTime) -> dict[str, Any]:
    out: dict[str, Any] = {"number": to_quantity(entry.number), "via": entry.via, "at": entry.at}
    if entry.verdict_at is not None:
        out["verdictAt"], out["accepted"] = entry.verdict_at, entry.accepted
    return out
