"""Locust users that load a pavm-net testnet with one of the paper's workloads.

    locust -f loadtest/locustfile.py --host http://127.0.0.1:8545 --workload erc20
    pavm loadtest --target http://127.0.0.1:8545 --workload erc20 ...   (headless)

When a run starts, development account 0 deploys the workload's contract. Each user
then takes its own accounts from the development mnemonic, has them enrolled (ETH from
development account 1, plus tokens and a self-approval where the workload needs them)
and sends the workload's transactions, signed here with nonces tracked here. Two
entries per transaction reach locust's statistics: the ``eth_sendRawTransaction``
call, and an ``inclusion`` entry timed from the send to the first block that holds
the transaction, failed if the transaction reverts or is not mined in time. One
watcher per run reads each new block's receipts, so inclusion costs one call per
block, not a poll per transaction.

Runs in one locust process (headless or web UI); ``--sent-file`` names a JSON file
that receives every sent hash when the run stops, which ``pavm loadtest`` turns into a
throughput count from mined blocks.
"""

import itertools
import json
import logging
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent
import httpx
from eth_hash.auto import keccak
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser

from common.genesis import dev_account
from common.state import ChainConfig
from loadtest.chain_client import pending_nonce, run_batches
from loadtest.generator import TxGenerator
from loadtest.workload import Wallet, mnemonic_wallets
from loadtest.workloads import WORKLOADS

logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per watcher call otherwise

LOCUST_ACCOUNTS = 50_000
"""First mnemonic index of locust users' accounts (clear of the benchmarks')."""
RUN_SLOTS = 10_000
ACCOUNTS_PER_SLOT = 10_000
"""Each run takes its accounts from a random slot of this many indices, so two runs on
one chain (a container's locust and one on the host, say) never share an account and
its nonces."""


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    group = parser.add_argument_group("pavm-net workload")
    group.add_argument(
        "--workload", choices=list(WORKLOADS), default="erc20", help="Transactions to send."
    )
    group.add_argument(
        "--conflict-rate",
        type=float,
        default=0.0,
        help="Fraction of transactions that write the workload's hot key (0..1).",
    )
    group.add_argument(
        "--scale", type=int, default=-1, help="Workload scale (-1: the workload's default)."
    )
    group.add_argument("--accounts-per-user", type=int, default=2, help="Accounts per user.")
    group.add_argument(
        "--tx-wait", type=float, default=0.05, help="Seconds each user waits between sends."
    )
    group.add_argument(
        "--inclusion-timeout",
        type=float,
        default=120.0,
        help="Seconds after which an unmined transaction counts as failed.",
    )
    group.add_argument("--sent-file", default="", help="Write sent hashes here at the end.")


def _slot(number: int) -> int:
    return LOCUST_ACCOUNTS + ACCOUNTS_PER_SLOT * number


@dataclass
class Run:
    """What every user of one run shares: the generator, its setup accounts, the
    transactions awaiting a block."""

    url: str
    generator: TxGenerator
    deployer: Wallet
    funder: Wallet
    timeout: float
    pending: dict[str, tuple[float, str]] = field(default_factory=dict)
    """Hash -> (send time, workload name) of sent, not yet mined transactions."""
    sent: list[str] = field(default_factory=list)
    first_block: int = 0
    watcher: Any = None
    accounts: int = field(default_factory=lambda: _slot(random.randrange(RUN_SLOTS)))
    """First mnemonic index of this run's user accounts."""
    users: Iterator[int] = field(default_factory=itertools.count)
    """Numbers the run's users in the order they start."""


RUN: Run | None = None


def _rpc(client: httpx.Client, url: str, method: str, params: list[Any]) -> Any:
    answer = client.post(url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
    body = answer.json()
    if "error" in body:
        raise RuntimeError(f"{method}: {body['error']['message']}")
    return body["result"]


def _watch(environment: Environment, run: Run) -> None:
    """Report inclusion of pending transactions, block by block, until the run stops."""
    number = run.first_block
    with httpx.Client(timeout=30) as client:
        while True:
            try:
                head = int(_rpc(client, run.url, "eth_blockNumber", []), 16)
                while number < head:
                    number += 1
                    receipts = _rpc(client, run.url, "eth_getBlockReceipts", [hex(number)])
                    mined = time.monotonic()
                    for receipt in receipts or []:
                        entry = run.pending.pop(receipt["transactionHash"], None)
                        if entry is None:
                            continue
                        sent, name = entry
                        failed = receipt["status"] != "0x1"
                        environment.events.request.fire(
                            request_type="inclusion",
                            name=name,
                            response_time=(mined - sent) * 1000,
                            response_length=0,
                            exception=RuntimeError("reverted") if failed else None,
                            context={},
                        )
            except (httpx.HTTPError, RuntimeError, ValueError):
                pass  # the node is restarting or busy: try again at the next tick
            now = time.monotonic()
            for tx_hash, (sent, name) in list(run.pending.items()):
                if now - sent > run.timeout:
                    del run.pending[tx_hash]
                    environment.events.request.fire(
                        request_type="inclusion",
                        name=name,
                        response_time=(now - sent) * 1000,
                        response_length=0,
                        exception=TimeoutError("not mined in time"),
                        context={},
                    )
            gevent.sleep(0.1)


@events.test_start.add_listener
def _start(environment: Environment, **kwargs: Any) -> None:
    """Deploy the workload's contract once and start the block watcher; if that fails,
    say why and stop the run (users without a contract could only fail)."""
    global RUN
    RUN = None
    try:
        RUN = _set_up(environment)
    except Exception as exc:  # noqa: BLE001 - any setup failure ends the run with its reason
        logging.error("pavm: workload setup failed: %s", exc)
        environment.process_exit_code = 2
        if environment.runner is not None:
            gevent.spawn(environment.runner.quit)


def _set_up(environment: Environment) -> Run:
    options = environment.parsed_options
    if options is None or environment.host is None:
        raise RuntimeError("pavm locustfile: give --host (the miner's JSON-RPC URL)")
    spec = WORKLOADS[options.workload]
    scale = spec.default_scale if options.scale < 0 else options.scale
    url = environment.host.rstrip("/")
    with httpx.Client(timeout=30) as client:
        chain_id = int(_rpc(client, url, "eth_chainId", []), 16)
        latest = _rpc(client, url, "eth_getBlockByNumber", ["latest", False])
    config = ChainConfig(chain_id=chain_id, gas_limit=int(latest["gasLimit"], 16))
    generator = TxGenerator(
        spec, scale, config, conflict_rate=options.conflict_rate, seed=int(time.time())
    )
    deployer, funder = (Wallet(dev_account(i).key) for i in (0, 1))
    for account in (deployer, funder):
        generator.nonces[account.address] = pending_nonce(url, account.address)
    run = Run(url, generator, deployer, funder, options.inclusion_timeout)
    run_batches(url, generator.deploy(deployer), 300, lambda line: None)
    run.first_block = int(latest["number"], 16)
    run.watcher = gevent.spawn(_watch, environment, run)
    return run


@events.test_stop.add_listener
def _stop(environment: Environment, **kwargs: Any) -> None:
    run = RUN
    if run is None:
        return
    deadline = time.monotonic() + min(run.timeout, 30)
    while run.pending and time.monotonic() < deadline:
        gevent.sleep(0.2)  # let the last transactions reach a block
    if run.watcher is not None:
        run.watcher.kill()
    options = environment.parsed_options
    if options is not None and options.sent_file:
        record = {
            "workload": run.generator.workload.name,
            "scale": run.generator.scale,
            "conflict_rate": run.generator.conflict_rate,
            "contract": "0x" + run.generator.contract.hex() if run.generator.contract else None,
            "first_block": run.first_block,
            "sent": run.sent,
        }
        with open(options.sent_file, "w") as out:
            json.dump(record, out)


class WorkloadUser(FastHttpUser):
    """Sends one workload transaction per task from its own accounts, round-robin."""

    def wait_time(self) -> float:
        options = self.environment.parsed_options
        return float(options.tx_wait) if options is not None else 0.0

    def on_start(self) -> None:
        run = RUN
        if run is None:
            raise StopUser()  # the setup failed and said why
        options = self.environment.parsed_options
        assert options is not None
        per_user = options.accounts_per_user
        first = run.accounts + next(run.users) * per_user
        if first + per_user > run.accounts + ACCOUNTS_PER_SLOT:
            raise StopUser()  # more users than one run's accounts
        self.accounts = mnemonic_wallets(per_user, offset=first)
        self.turn = itertools.cycle(self.accounts)
        generator = run.generator
        for account in self.accounts:
            generator.nonces[account.address] = pending_nonce(run.url, account.address)
        batches = generator.enroll(run.deployer, self.accounts, run.funder)
        run_batches(run.url, batches, 300, lambda line: None)

    @task
    def send(self) -> None:
        run = RUN
        assert run is not None
        account = next(self.turn)
        raw = run.generator.next(account)
        tx_hash = "0x" + keccak(raw).hex()
        # Pending before the send: the block may be read before the answer arrives.
        run.pending[tx_hash] = (time.monotonic(), run.generator.workload.name)
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_sendRawTransaction",
            "params": ["0x" + raw.hex()],
        }
        with self.client.post(
            "/", json=body, name="eth_sendRawTransaction", catch_response=True
        ) as response:
            answer = response.json() if response.content else {}
            if "result" not in answer:
                message = answer.get("error", {}).get("message", f"HTTP {response.status_code}")
                response.failure(message)
                run.pending.pop(tx_hash, None)
                # The node did not take it: the next transaction reuses the nonce.
                run.generator.nonces[account.address] = pending_nonce(run.url, account.address)
                return
        run.sent.append(tx_hash)
