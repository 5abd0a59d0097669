"""``eth_config`` (EIP-7910): the fork a node runs, for tools that check they talk to
the chain they expect. One fork is active from genesis and none is scheduled, so
``next`` and ``last`` are null; the fork id is EIP-2124's CRC32 of the genesis hash
(no fork after block 0 to fold in). pavm deploys no system contracts (its blocks
carry no beacon roots, deposits or other requests). On the "pavm" fork the
fork-join precompile is listed beside Prague's.
"""

import zlib
from typing import Any

from common.evm.subcalls import PARALLEL_ADDRESS
from common.rpc.hexcodec import to_data, to_quantity

PRECOMPILE_NAMES = (
    "ECREC", "SHA256", "RIPEMD160", "ID", "MODEXP", "BN254_ADD", "BN254_MUL",
    "BN254_PAIRING", "BLAKE2F", "KZG_POINT_EVALUATION", "BLS12_G1ADD", "BLS12_G1MSM",
    "BLS12_G2ADD", "BLS12_G2MSM", "BLS12_PAIRING_CHECK", "BLS12_MAP_FP_TO_G1",
    "BLS12_MAP_FP2_TO_G2",
)  # fmt: skip
"""EIP-7910's names of Prague's precompiles at addresses 0x01..0x11, in order."""
PRAGUE_BLOBS = {"baseFeeUpdateFraction": 5007716, "max": 9, "target": 6}


def fork_config(chain_id: int, genesis_hash: bytes, precompiles: set[bytes]) -> dict[str, Any]:
    """The answer of eth_config for a chain whose one fork has ``precompiles``."""
    named = {
        name: to_data(address)
        for index, name in enumerate(PRECOMPILE_NAMES, start=1)
        if (address := (index).to_bytes(20, "big")) in precompiles
    }
    if bytes(PARALLEL_ADDRESS) in precompiles:
        named["PAVM_FORK_JOIN"] = to_data(bytes(PARALLEL_ADDRESS))
    current = {
        "activationTime": 0,
        "blobSchedule": dict(PRAGUE_BLOBS),
        "chainId": to_quantity(chain_id),
        "forkId": "0x" + zlib.crc32(genesis_hash).to_bytes(4, "big").hex(),
        "precompiles": named,
        "systemContracts": {},
    }
    return {"current": current, "next": None, "last": None}
