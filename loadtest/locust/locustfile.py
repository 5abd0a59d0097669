"""Locust users that load a pavm-net testnet with one of the paper's workloads.

    locust -f loadtest/locust/locustfile.py --host http://127.0.0.1:8545 --workload erc20
    pavm loadtest --target http://127.0.0.1:8545 --workload erc20 ...   (headless)

When a run starts, development account 0 deploys the workload's contract. Each user
then takes its own accounts from the development mnemonic, has them enrolled (ETH from
development accounts 1-9, plus tokens and a self-approval where the workload needs them)
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
from eth_hash.auto import keccak
from gevent.event import AsyncResult, Event
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.stats import CSV_STATS_INTERVAL_SEC

from common.chain.accounts import GWEI, Wallet, dev_accounts, mnemonic_wallets
from common.chain.state import ChainConfig
from common.rpc.client import RpcClient, call
from loadtest.workloads.chain import block_receipts, pending_nonce, run_batches
from loadtest.workloads.generator import TxGenerator
from loadtest.workloads.table import WORKLOADS

logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per watcher call otherwise

LOCUST_ACCOUNTS = 50_000
"""First mnemonic index of locust users' accounts (clear of the benchmarks')."""
RUN_SLOTS = 10_000
ACCOUNTS_PER_SLOT = 10_000
"""Each run takes its users' accounts from a random slot of this many indices, so two
runs on one chain do not share user accounts. They do share the deployer and funders
(development accounts 0-9), whose nonces each run reads from the node before use; two
runs enrolling at the same moment can still collide there and then say so."""


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
class Pending:
    """A sent transaction not yet seen in a block."""

    sent: float
    """Monotonic time of the send."""
    name: str
    account: bytes


@dataclass
class Run:
    """What every user of one run shares: the generator, its setup accounts, the
    transactions awaiting a block."""

    url: str
    generator: TxGenerator
    deployer: Wallet
    funders: list[Wallet]
    timeout: float
    pending: dict[str, Pending] = field(default_factory=dict)
    sent: list[str] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)
    """Wall-clock (epoch) time each of ``sent`` went out."""
    stale: set[bytes] = field(default_factory=set)
    """Accounts whose local nonce may be wrong (a failed send, a dropped transaction):
    their next send first asks the node."""
    first_send: float | None = None
    last_inclusion: float | None = None
    """Wall-clock (epoch) times of the first send and the last inclusion seen."""
    first_block: int = 0
    watcher: Any = None
    enroller: "Enroller | None" = None
    accounts: int = field(default_factory=lambda: _slot(random.randrange(RUN_SLOTS)))
    """First mnemonic index of this run's user accounts."""
    users: Iterator[int] = field(default_factory=itertools.count)
    """Numbers the run's users in the order they start."""


RUN: Run | None = None


class Enroller:
    """Enrolls users' accounts in rounds from one greenlet: the funders' and deployer's
    nonces are read from the node at each round, so a failed or interrupted round never
    leaves a gap that stalls the next."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.waiting: list[tuple[list[Wallet], AsyncResult]] = []
        self.wakeup = Event()
        self.greenlet = gevent.spawn(self._loop)

    def enroll(self, accounts: list[Wallet]) -> None:
        """Block until ``accounts`` are funded and ready; raises why they are not."""
        done = AsyncResult()
        self.waiting.append((accounts, done))
        self.wakeup.set()
        done.get()

    def _loop(self) -> None:
        run = self.run
        generator = run.generator
        while True:
            self.wakeup.wait()
            gevent.sleep(0.2)  # users spawned together enroll together
            self.wakeup.clear()
            batch, self.waiting = self.waiting, []
            accounts = [a for group, _ in batch for a in group]
            try:
                for wallet in (run.deployer, *run.funders, *accounts):
                    generator.nonces[wallet.address] = pending_nonce(run.url, wallet.address)
                steps = generator.enroll(run.deployer, accounts, run.funders)
                run_batches(run.url, steps, 300, lambda line: None)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting user
                for _, done in batch:
                    done.set_exception(exc)
            else:
                for _, done in batch:
                    done.set(None)


def _fire(environment: Environment, name: str, seconds: float, error: str | None) -> None:
    environment.events.request.fire(
        request_type="inclusion",
        name=name,
        response_time=seconds * 1000,
        response_length=0,
        exception=RuntimeError(error) if error else None,
        context={},
    )


def _watch(environment: Environment, run: Run) -> None:
    """Report inclusion of pending transactions, block by block, until the run stops;
    keep the fee cap above the base fee as blocks fill."""
    number = run.first_block
    generator = run.generator
    with RpcClient(run.url, timeout=30) as node:
        while True:
            try:
                top = int(node.call("eth_blockNumber"), 16)
                if top > number:
                    latest = node.call("eth_getBlockByNumber", [hex(top), False])
                    base_fee = int(latest["baseFeePerGas"], 16)
                    generator.max_fee = max(generator.max_fee, 2 * base_fee + GWEI)
                while number < top:
                    receipts = block_receipts(node, number + 1)
                    number += 1
                    mined = time.monotonic()
                    for receipt in receipts:
                        entry = run.pending.pop(receipt["transactionHash"], None)
                        if entry is None:
                            continue
                        run.last_inclusion = time.time()
                        failed = receipt["status"] != "0x1"
                        _fire(environment, entry.name, mined - entry.sent, failed and "reverted")
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive a busy node
                logging.warning("pavm: block watcher retries after: %s", exc)
                gevent.sleep(1)
            now = time.monotonic()
            for tx_hash, entry in list(run.pending.items()):
                if now - entry.sent > run.timeout:
                    del run.pending[tx_hash]
                    run.stale.add(entry.account)  # dropped: its nonce may be free again
                    _fire(environment, entry.name, now - entry.sent, "not mined in time")
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
    chain_id = int(call(url, "eth_chainId"), 16)
    latest = call(url, "eth_getBlockByNumber", ["latest", False])
    config = ChainConfig(chain_id=chain_id, gas_limit=int(latest["gasLimit"], 16))
    generator = TxGenerator(
        spec, scale, config, conflict_rate=options.conflict_rate, seed=int(time.time())
    )
    deployer, *funders = dev_accounts(10)
    generator.nonces[deployer.address] = pending_nonce(url, deployer.address)
    run = Run(url, generator, deployer, funders, options.inclusion_timeout)
    run_batches(url, generator.deploy(deployer), 300, lambda line: None)
    run.first_block = int(latest["number"], 16)
    run.watcher = gevent.spawn(_watch, environment, run)
    run.enroller = Enroller(run)
    return run


@events.test_stop.add_listener
def _stop(environment: Environment, **kwargs: Any) -> None:
    """Give the last transactions time to reach a block, count the rest as failures,
    and write the sent hashes for ``pavm loadtest``."""
    run = RUN
    if run is None:
        return
    deadline = time.monotonic() + min(run.timeout, 30)
    while run.pending and time.monotonic() < deadline:
        gevent.sleep(0.2)
    for greenlet in (run.watcher, run.enroller.greenlet if run.enroller else None):
        if greenlet is not None:
            greenlet.kill()
    now = time.monotonic()
    for entry in run.pending.values():
        _fire(environment, entry.name, now - entry.sent, "not mined before the run stopped")
    run.pending.clear()
    # locust rewrites its CSV files once a second: let it catch the last entries.
    gevent.sleep(CSV_STATS_INTERVAL_SEC + 0.2)
    options = environment.parsed_options
    if options is not None and options.sent_file:
        record = {
            "workload": run.generator.workload.name,
            "scale": run.generator.scale,
            "conflict_rate": run.generator.conflict_rate,
            "contract": "0x" + run.generator.contract.hex() if run.generator.contract else None,
            "first_send": run.first_send,
            "last_inclusion": run.last_inclusion,
            "sent": run.sent,
            "sent_at": run.sent_at,
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
        if run is None or run.enroller is None:
            raise StopUser()  # the setup failed and said why
        options = self.environment.parsed_options
        assert options is not None
        per_user = options.accounts_per_user
        first = run.accounts + next(run.users) * per_user
        if first + per_user > run.accounts + ACCOUNTS_PER_SLOT:
            raise StopUser()  # more users than one run's accounts
        self.accounts = mnemonic_wallets(per_user, offset=first)
        self.turn = itertools.cycle(self.accounts)
        try:
            run.enroller.enroll(self.accounts)
        except Exception as exc:  # the user cannot send without funds
            logging.error("pavm: enrolling a user's accounts failed: %s", exc)
            raise StopUser() from exc

    @task
    def send(self) -> None:
        run = RUN
        assert run is not None
        account = next(self.turn)
        if account.address in run.stale:
            try:
                run.generator.nonces[account.address] = pending_nonce(run.url, account.address)
            except Exception:  # noqa: BLE001 - the node is busy: try this account later
                return
            run.stale.discard(account.address)
        raw = run.generator.next(account)
        tx_hash = "0x" + keccak(raw).hex()
        # Pending before the send: the block may be read before the answer arrives.
        name = run.generator.workload.name
        run.pending[tx_hash] = Pending(time.monotonic(), name, account.address)
        sent_at = time.time()
        run.first_send = run.first_send or sent_at
        body = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "eth_sendRawTransaction",
            "params": ["0x" + raw.hex()],
        }
        taken = False
        try:
            with self.client.post(
                "/", json=body, name="eth_sendRawTransaction", catch_response=True
            ) as response:
                try:
                    answer = response.json()
                except ValueError:
                    answer = {}
                if "result" in answer:
                    taken = True
                else:
                    error = answer.get("error", {}).get("message", f"HTTP {response.status_code}")
                    response.failure(error)
        finally:
            # Not taken (refused, or the user stopped mid-call): forget it, and let the
            # account's next send ask the node for its nonce.
            if not taken:
                run.pending.pop(tx_hash, None)
                run.stale.add(account.address)
        if taken:
            run.sent.append(tx_hash)
            run.sent_at.append(sent_at)
