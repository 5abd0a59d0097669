"""The ``web3_*`` and ``net_*`` namespaces: what a client asks first about a node."""

from eth_hash.auto import keccak

from common.rpc.hexcodec import to_data
from common.rpc.namespace import Namespace, method
from common.rpc.params import Data

CLIENT_VERSION = "pavm-net/0.1.0/python3.11"


class Web3NetApi(Namespace):
    """The node's name and network; a node of this network has no peers to count
    (blocks are pushed to validators, not gossiped)."""

    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id

    @method("web3_clientVersion")
    def client_version(self) -> str:
        return CLIENT_VERSION

    @method("web3_sha3")
    def sha3(self, data: Data) -> str:
        return to_data(keccak(data))

    @method("net_version")
    def version(self) -> str:
        return str(self.chain_id)

    @method("net_listening")
    def listening(self) -> bool:
        return True

    @method("net_peerCount")
    def peer_count(self) -> str:
        return "0x0"
