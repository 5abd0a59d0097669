"""The JSON-RPC table of a node: the namespaces every node serves over its store,
then the node's own (the miner's pool and dev methods)."""

from collections.abc import Callable

from common.chain.block import Block
from common.rpc.debug import DebugApi
from common.rpc.dispatch import Handler
from common.rpc.eth import EthApi
from common.rpc.namespace import Namespace, table
from common.rpc.pavm import PavmApi, PavmNodeApi
from common.rpc.tracing import TraceApi
from common.rpc.web3_net import Web3NetApi


def node_methods(
    eth: EthApi,
    records: PavmNodeApi,
    *more: Namespace,
    bad_blocks: Callable[[], list[Block]] = list,
) -> dict[str, Handler]:
    """``web3``/``net``, ``eth`` (with its calls and filters), ``debug``, ``pavm`` (the
    blocks', then the node's ``records``), then ``more`` (whose methods replace any of
    the same name); ``bad_blocks`` lists the blocks the node refused, for
    ``debug_getBadBlocks``."""
    return table(
        Web3NetApi(eth.config.chain_id),
        eth,
        eth.calls,
        eth.filters,
        DebugApi(eth.store, eth.find_block, bad_blocks),
        TraceApi(eth.store, eth.resolve_number, eth.calls.bounded),
        PavmApi(eth),
        records,
        *more,
    )
