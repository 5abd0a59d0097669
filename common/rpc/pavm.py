"""The ``pavm_*`` namespace: every method of pavm's own, over what a node records
of its blocks beyond Ethereum's objects (R/W sets, groups, operation receipts,
commitments) and beside its chain (block times, verdicts, validation reports,
equivocations).

Each node offers what it records: the miner its validators' verdicts, a validator
its validation reports and the equivocations it saw; both their block times.
"""

from collections.abc import Callable
from typing import Any

from eth_hash.auto import keccak

from common.evm.recording import OpKind
from common.net.block_times import BlockTime, BlockTimes
from common.rpc.errors import invalid_params
from common.rpc.eth import EthApi
from common.rpc.hexcodec import to_data, to_quantity
from common.rpc.namespace import Namespace, method
from common.rpc.params import BlockRef, BlockTag, Hash, Int64, Raw
from common.rpc.replay import replay
from common.store.chain import ChainStore

MAX_OPERATIONS = 50_000
"""Operations one ``pavm_getOperationReceipt`` answer holds at most (~200 bytes each)."""
MAX_TIMES_RANGE = 256
"""Blocks one ``pavm_getBlockTimes`` call answers for."""


class PavmApi(Namespace):
    """pavm's block data over a node's Ethereum API (its store and call slots)."""

    def __init__(self, eth: EthApi) -> None:
        self.eth = eth
        self.store = eth.store

    # -- blocks ------------------------------------------------------------------------

    @method("pavm_getBlockRWSet")
    def block_rwset(self, block: BlockRef) -> list[dict[str, Any]]:
        return [_rwset_json(r) for r in self.eth.block_at(block).rwsets]

    @method("pavm_getBlockGroups")
    def block_groups(self, block: BlockRef) -> list[dict[str, Any]]:
        found = self.eth.block_at(block)
        return [
            {"transactions": list(members), "gas": to_quantity(gas)}
            for members, gas in zip(found.groups, found.group_gas, strict=True)
        ]

    @method("pavm_getBlockCommitments")
    def block_commitments(self, block: BlockRef) -> dict[str, Any]:
        """pavm's header commitments and each transaction's operation-receipt hashes:
        what a standard block or receipt object has no field for."""
        found = self.eth.block_at(block)
        header = found.header
        receipts = self.store.receipts(header.number) or []
        return {
            "blockHash": to_data(found.hash),
            "operationReceiptsRoot": to_data(header.op_receipts_root),
            "rwsetHash": to_data(header.rwset_hash),
            "groupsHash": to_data(header.groups_hash),
            "groups": len(found.groups),
            "receipts": [
                {"readHash": to_data(r.read_hash), "writeHash": to_data(r.write_hash)}
                for r in receipts
            ],
        }

    @method("pavm_getOperationReceipt")
    def operation_receipt(self, hash: Hash, page: Raw = None) -> dict[str, Any] | None:
        """The transaction's recorded operations, replayed as eth_call runs: in a call
        slot, within the call deadline, outside the node's lock (invariant 9,
        docs/architecture.md), so it never holds up mining or validation. Unlocked
        reads are safe: what a replay reads (a stored block, its ancestors' headers,
        trie nodes, content-addressed) is written once and never changed, and an LMDB
        read sees only committed data.

        Operations come in pages of at most ``MAX_OPERATIONS`` (about 10 MB), so a
        transaction of millions of cheap reads stays readable: the optional second
        parameter ``{"offset": n, "limit": m}`` picks the page, and ``nextOffset``
        says where the next one starts (absent on the last)."""
        offset, limit = _operation_page(page)
        with self.eth.calls.bounded():
            replayed = replay(self.store, hash)
        if replayed is None:
            return None
        receipt = replayed.outcome.receipt
        ops = replayed.outcome.ops
        shown = ops[offset : offset + limit]
        paging: dict[str, Any] = {"operationCount": len(ops)}
        if offset + limit < len(ops):
            paging["nextOffset"] = offset + limit
        return {
            "transactionHash": to_data(hash),
            "blockNumber": to_quantity(replayed.number),
            "transactionIndex": to_quantity(replayed.index),
            "group": replayed.group,
            "status": to_quantity(receipt.status),
            "gasUsed": to_quantity(receipt.gas_used),
            "readHash": to_data(receipt.read_hash),
            "writeHash": to_data(receipt.write_hash),
            "operations": [_op_json(op) for op in shown],
            **paging,
        }


class PavmNodeApi(Namespace):
    """What a node records beside its chain: ``info`` is its ``pavm_nodeInfo``,
    ``times`` when its blocks came; each of the others, given, offers its method:
    ``verdicts`` the validators' verdicts on a block (a miner's), ``report`` how this
    node validated block N as JSON (a validator's), ``equivocations`` the ones it saw
    (a validator's, :func:`equivocations_json`)."""

    def __init__(
        self,
        info: Callable[[], dict[str, Any]],
        times: BlockTimes,
        verdicts: Callable[[int | str], Any] | None = None,
        report: Callable[[int], dict[str, Any] | None] | None = None,
        equivocations: Callable[[], list[dict[str, Any]]] | None = None,
    ) -> None:
        self.info = info
        self.times = times
        self.verdicts_of = verdicts
        self.report = report
        self.seen = equivocations

    @method("pavm_nodeInfo")
    def node_info(self) -> dict[str, Any]:
        return self.info()

    @method("pavm_getBlockTimes")
    def block_times(self, start: Int64, end: Int64) -> list[dict[str, Any]]:
        """When blocks start..end (at most :data:`MAX_TIMES_RANGE`) were sealed, or
        arrived and were judged, oldest first; blocks not remembered are left out."""
        if end < start or end - start + 1 > MAX_TIMES_RANGE:
            raise invalid_params(f"need start <= end and at most {MAX_TIMES_RANGE} blocks")
        return [_time_json(entry) for entry in self.times.between(start, end)]

    @method("pavm_getVerdicts", when=lambda pavm: pavm.verdicts_of is not None)
    def verdicts(self, block: BlockTag) -> Any:
        """The validators' verdicts on a block, as the miner recorded them."""
        assert self.verdicts_of is not None
        return self.verdicts_of(block)

    @method("pavm_getValidationReport", when=lambda pavm: pavm.report is not None)
    def validation_report(self, block: Int64) -> dict[str, Any] | None:
        """How this validator validated block N (one of its 100 most recent), or null."""
        assert self.report is not None
        return self.report(block)

    @method("pavm_getEquivocations", when=lambda pavm: pavm.seen is not None)
    def equivocations(self) -> list[dict[str, Any]]:
        assert self.seen is not None
        return self.seen()


def equivocations_json(store: ChainStore) -> list[dict[str, Any]]:
    """Every equivocation ``store`` recorded: two headers at one height, both sealed
    by the miner (each checks with ``ecrecover`` of its seal), the one held here when
    the other arrived first."""
    out = []
    for record in store.equivocations():
        held, other = (bytes.fromhex(record[k][2:]) for k in ("held", "other"))
        out.append(
            {
                "number": to_quantity(record["number"]),
                "heldHash": to_data(keccak(held)),
                "otherHash": to_data(keccak(other)),
                "heldHeader": record["held"],
                "otherHeader": record["other"],
                "seenAt": record["seenAt"],
            }
        )
    return out


def _time_json(entry: BlockTime) -> dict[str, Any]:
    out: dict[str, Any] = {"number": to_quantity(entry.number), "via": entry.via, "at": entry.at}
    if entry.verdict_at is not None:
        out["verdictAt"], out["accepted"] = entry.verdict_at, entry.accepted
    return out


def _operation_page(page: Any) -> tuple[int, int]:
    """(offset, limit) of ``pavm_getOperationReceipt``'s optional page object."""
    if page is None:
        return 0, MAX_OPERATIONS
    if not isinstance(page, dict) or set(page) - {"offset", "limit"}:
        raise invalid_params('invalid argument 1: a page is {"offset": n, "limit": m}')
    offset, limit = page.get("offset", 0), page.get("limit", MAX_OPERATIONS)
    for name, number in (("offset", offset), ("limit", limit)):
        if type(number) is not int or number < 0:
            raise invalid_params(f"invalid argument 1: {name} must be an integer >= 0")
    if not 0 < limit <= MAX_OPERATIONS:
        raise invalid_params(f"invalid argument 1: limit must be in [1, {MAX_OPERATIONS}]")
    return offset, limit


def _op_json(op: tuple[int, bytes, int, Any]) -> dict[str, Any]:
    kind, address, slot, value = op
    out: dict[str, Any] = {"op": OpKind(kind).name.lower(), "address": to_data(address)}
    if slot:
        out["slot"] = to_quantity(slot)
    if isinstance(value, bool):
        out["value"] = value
    elif isinstance(value, int):
        out["value"] = to_quantity(value)
    elif isinstance(value, bytes):
        out["value"] = to_data(value)
    return out


def _rwset_json(rwset: Any) -> dict[str, Any]:
    return {
        "reads": [
            {"address": to_data(a), "fields": fields, "slots": [to_quantity(s) for s in slots]}
            for a, (fields, slots) in sorted(rwset.reads.items())
        ],
        "writes": [
            {
                "address": to_data(a),
                "flags": w.flags,
                "balance": to_quantity(w.balance),
                "nonce": to_quantity(w.nonce),
                "code": to_data(w.code),
                "storage": {to_quantity(k): to_quantity(v) for k, v in sorted(w.storage.items())},
            }
            for a, w in sorted(rwset.writes.items())
        ],
        "readsBeneficiary": rwset.reads_beneficiary,
    }
