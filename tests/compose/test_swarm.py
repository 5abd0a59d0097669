"""The same docker-compose.yml as a stack on a single-node Docker Swarm.

Joins this engine to a swarm for the test when it is not in one (and leaves it
again afterwards), deploys with scripts/stack-deploy, and checks that three
validators agree on a block of transactions sent to the miner's published port.
"""

import subprocess
import time
from pathlib import Path

import docker
import httpx
import pytest

from common.chain.accounts import dev_accounts, sign
from common.chain.state import ChainConfig
from common.errors import PavmError
from common.rpc.client import call
from loadtest.testnet import process as testnet

pytestmark = pytest.mark.compose
ROOT = Path(__file__).resolve().parents[2]
STACK = "pavmswarmtest"


@pytest.fixture(scope="module")
def swarm_url():
    client = docker.from_env()
    joined = False
    if client.info()["Swarm"]["LocalNodeState"] != "active":
        subprocess.run(
            ["docker", "swarm", "init", "--advertise-addr", "127.0.0.1"],
            check=True,
            capture_output=True,
        )
        joined = True
    port = testnet.free_base_port(span=1)
    env = {
        "VALIDATORS": "3",
        "PAVM_RPC_PORT": str(port),
        "PAVM_TRANSPORT": "both",
        "BLOCK_INTERVAL": "1",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }
    try:
        subprocess.run(
            [str(ROOT / "scripts/stack-deploy"), STACK], env=env, check=True, timeout=600
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        subprocess.run(["docker", "stack", "rm", STACK], check=False, capture_output=True)
        deadline = time.monotonic() + 60
        # sparse: no inspection of each container, which races with their removal.
        while time.monotonic() < deadline and client.containers.list(
            all=True, sparse=True, filters={"label": f"com.docker.stack.namespace={STACK}"}
        ):
            time.sleep(1)
        # docker stack rm keeps volumes: drop the chain data so the next run starts anew.
        for volume in client.volumes.list(filters={"label": f"com.docker.stack.namespace={STACK}"}):
            volume.remove(force=True)
        if joined:
            subprocess.run(
                ["docker", "swarm", "leave", "--force"], check=False, capture_output=True
            )


def _until(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (httpx.HTTPError, ValueError, KeyError, PavmError):
            pass
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}")


def test_stack_validators_agree(swarm_url):
    _until(lambda: httpx.get(swarm_url + "/health", timeout=2).status_code == 200, 240, "the miner")
    wallet = dev_accounts(1)[0]
    start = int(
        call(swarm_url, "eth_getTransactionCount", ["0x" + wallet.address.hex(), "pending"]),
        16,
    )
    hashes = [
        call(
            swarm_url,
            "eth_sendRawTransaction",
            ["0x" + sign(wallet, n, b"\x01" * 20, config=ChainConfig(), value=1, gas=21_000).hex()],
        )
        for n in range(start, start + 20)
    ]
    _until(
        lambda: all(call(swarm_url, "eth_getTransactionReceipt", [h]) for h in hashes),
        240,
        "the transactions mined",
    )

    def agreed() -> bool:
        head = int(call(swarm_url, "eth_blockNumber"), 16)
        return all(
            sum(v["agree"] for v in call(swarm_url, "pavm_getVerdicts", [hex(n)])) == 3
            for n in range(1, head + 1)
        )

    _until(agreed, 600, "three validators agreeing on every block")
