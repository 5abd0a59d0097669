"""Locust users for pavm-net (a minimal read-only user until the workloads land).

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8545

Each simulated user asks the node for its head, a block and a dev account's balance
over JSON-RPC, and counts any JSON-RPC error as a failure.
"""

import random

from locust import FastHttpUser, between, task

ACCOUNTS = [
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
]


class JsonRpcReader(FastHttpUser):
    wait_time = between(0.1, 0.5)

    def rpc(self, method: str, params: list[object], name: str) -> object:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
        with self.client.post("/", json=body, name=name, catch_response=True) as response:
            answer = response.json()
            if "error" in answer:
                response.failure(answer["error"].get("message", "JSON-RPC error"))
                return None
            return answer.get("result")

    @task(3)
    def head(self) -> None:
        self.rpc("eth_blockNumber", [], "eth_blockNumber")

    @task(2)
    def balance(self) -> None:
        self.rpc("eth_getBalance", [random.choice(ACCOUNTS), "latest"], "eth_getBalance")

    @task(1)
    def block(self) -> None:
        self.rpc("eth_getBlockByNumber", ["latest", False], "eth_getBlockByNumber")
