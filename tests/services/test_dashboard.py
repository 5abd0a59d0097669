"""The miner's live dashboard on a real process-mode testnet: its JSON agrees with the
nodes' own methods, its event stream pushes new heads, its inputs are bounded, and in
headless Chromium (Debian's chromium + chromium-driver, driven by selenium) the page
updates without a reload and leads into a block's Gantt chart and a transaction."""

import json
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from common.rpc.client import call
from loadtest.testnet import process as testnet
from miner.dashboard.routes import MAX_STREAMS, MAX_STREAMS_PER_CLIENT
from tests.services.helpers import all_agree, start_testnet, wait_for

INDEPENDENT = 4
"""Transfers from distinct senders to distinct new accounts: one group each."""


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    network = start_testnet(
        tmp_path_factory.mktemp("dashboard"), validators=2, workers=2, block_interval=0.5
    )
    yield network
    testnet.down(network)


def _send_independent(url: str) -> list[str]:
    """``INDEPENDENT`` transfers mined in one block (automine off while they queue)."""
    accounts = call(url, "eth_accounts")
    call(url, "evm_setAutomine", [False])
    call(url, "evm_setIntervalMining", [0])
    hashes = [
        call(
            url,
            "eth_sendTransaction",
            [{"from": accounts[i], "to": "0x" + bytes([0xD0 + i]).hex() * 20, "value": "0x1"}],
        )
        for i in range(INDEPENDENT)
    ]
    call(url, "evm_mine")
    call(url, "evm_setIntervalMining", [500])
    return hashes


def _mined(url: str, tx_hash: str) -> dict[str, Any]:
    return wait_for(lambda: call(url, "eth_getTransactionReceipt", [tx_hash]), 30, "mining")


def test_the_dashboards_json_is_what_the_nodes_serve(net):
    url = net.miner.url
    hashes = _send_independent(url)
    receipt = _mined(url, hashes[0])
    number = int(receipt["blockNumber"], 16)
    wait_for(lambda: (all_agree(net) or 0) >= number, 60, "verdicts")

    def reported() -> dict[str, Any] | None:
        data = httpx.get(f"{url}/dashboard/api/block/{number}", timeout=10).json()
        return data if len(data["reports"]) == 2 else None

    block = wait_for(reported, 30, "both validators' reports on the dashboard")
    groups = call(url, "pavm_getBlockGroups", [hex(number)])
    assert block["groups"] == groups and len(groups) == INDEPENDENT
    assert {v["validator"] for v in block["verdicts"] if v["agree"]} == {
        "validator-1",
        "validator-2",
    }
    for name, report in block["reports"].items():
        own = call(
            next(v.url for v in net.validators if v.name == name),
            "pavm_getValidationReport",
            [hex(number)],
        )
        assert report == own  # the validator's own report, not a copy made up
        assert sorted(s["id"] for s in report["spans"] if s["kind"] == "group") == list(
            range(INDEPENDENT)
        )

    overview = httpx.get(f"{url}/dashboard/api/overview", timeout=10).json()
    assert overview["head"] >= number and overview["members"] == 2
    row = next(b for b in overview["blocks"] if b["number"] == number)
    assert (row["groups"], row["agree"], row["missing"]) == (INDEPENDENT, 2, 0)
    assert row["strategies"] == ["groups"]
    for validator in overview["validators"]:
        assert validator["state"] == "synced" and validator["lastVerdict"]["agree"]
        assert number in {n for n, _ in validator["speedup"]}
        assert len(validator["cores"]) == 2

    tx = httpx.get(f"{url}/dashboard/api/tx/{hashes[1]}", timeout=10).json()
    assert tx["receipt"]["transactionHash"] == hashes[1]
    assert tx["operationReceipt"]["group"] == next(
        i
        for i, g in enumerate(groups)
        if int(tx["receipt"]["transactionIndex"], 16) in g["transactions"]
    )
    assert tx["rwset"] == call(url, "pavm_getBlockRWSet", [hex(number)])[1]


def test_bad_requests_are_refused_with_a_reason(net):
    url = net.miner.url
    assert httpx.get(f"{url}/dashboard/api/block/99999999").status_code == 404
    assert httpx.get(f"{url}/dashboard/api/block/-1").status_code == 400
    bad = httpx.get(f"{url}/dashboard/api/tx/0x1234")
    assert bad.status_code == 400 and "hash" in bad.json()["detail"]
    unmined = httpx.get(f"{url}/dashboard/api/tx/0x" + "ab" * 32)
    assert unmined.status_code == 404
    assert httpx.get(f"{url}/dashboard/assets/../app.py").status_code == 404
    assert (
        httpx.get(f"{url}/dashboard/assets/plotly.min.js")
        .headers["content-type"]
        .startswith("text/javascript")
    )


def _stream_opens(url: str) -> bool:
    with httpx.stream("GET", f"{url}/dashboard/events", timeout=10) as response:
        return response.status_code == 200


def _from(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (any of 127.0.0.0/8 reaches
    127.0.0.1 on Linux): another client, as the node tells them apart."""
    return httpx.Client(timeout=10, transport=httpx.HTTPTransport(local_address=address))


def test_the_event_stream_pushes_new_heads_and_is_bounded(net):
    url = net.miner.url
    clients = [_from(f"127.0.0.{i}") for i in range(2, 7)]
    with ExitStack() as streams:
        for client in clients:
            streams.callback(client.close)
        opened = [
            streams.enter_context(
                clients[i // MAX_STREAMS_PER_CLIENT].stream("GET", f"{url}/dashboard/events")
            )
            for i in range(MAX_STREAMS_PER_CLIENT)
        ]
        assert all(r.status_code == 200 for r in opened)
        greedy = clients[0].get(f"{url}/dashboard/events")
        assert greedy.status_code == 503 and "from 127.0.0.2" in greedy.json()["detail"]
        for i in range(MAX_STREAMS_PER_CLIENT, MAX_STREAMS):
            response = streams.enter_context(
                clients[i // MAX_STREAMS_PER_CLIENT].stream("GET", f"{url}/dashboard/events")
            )
            assert response.status_code == 200
        refused = clients[-1].get(f"{url}/dashboard/events")
        assert refused.status_code == 503 and str(MAX_STREAMS) in refused.json()["detail"]
        heads = []
        call(url, "evm_mine")
        for line in opened[0].iter_lines():
            if line.startswith("data: "):
                heads.append(json.loads(line[6:])["head"])
                if heads[-1] > heads[0]:
                    break
        assert heads[-1] > heads[0]
    # Closed streams give their slots back.
    wait_for(lambda: _stream_opens(url) or None, 15, "a slot freed when a stream closed")


def _browser() -> WebDriver:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        pytest.fail(
            "headless Chromium needs Debian's chromium and chromium-driver "
            "(scripts/test installs them)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1280,800",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


def _text(browser: WebDriver, element_id: str) -> str:
    return browser.find_element(By.ID, element_id).text


def test_in_chromium_the_page_follows_the_chain_into_a_block_and_a_transaction(net, tmp_path: Path):
    url = net.miner.url
    browser = _browser()
    try:
        browser.get(f"{url}/dashboard")
        wait_for(lambda: _text(browser, "live") == "live", 30, "the event stream")
        before = int(_text(browser, "head"))
        hashes = _send_independent(url)
        number = int(_mined(url, hashes[0])["blockNumber"], 16)
        assert number > before
        # No reload: the stream brings the new head, its groups, and both verdicts.
        wait_for(lambda: int(_text(browser, "head")) >= number, 30, "the new head on the page")

        def row() -> list[str] | None:
            for tr in browser.find_elements(By.CSS_SELECTOR, "#blocks tbody tr"):
                cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
                if cells and cells[0] == str(number) and cells[7] == "2":
                    return cells
            return None

        cells = wait_for(row, 60, f"block {number} agreed by both validators")
        assert cells[3] == str(INDEPENDENT) and cells[9] == "0"
        browser.save_screenshot(str(tmp_path / "overview.png"))

        def open_block() -> bool:
            # The table is drawn anew each second: a row found may be gone by the click.
            browser.find_element(By.XPATH, f"//table[@id='blocks']//tr[td[1]='{number}']").click()
            return True

        wait_for(open_block, 10, "a click on the block's row")
        wait_for(lambda: _text(browser, "block-number") == str(number), 10, "the block page")
        wait_for(
            lambda: browser.find_elements(By.CSS_SELECTOR, "#gantt-validator option"), 30, "reports"
        )
        bars = browser.execute_script(
            "return document.getElementById('chart-gantt').data"
            ".filter(t => t.name === 'group').reduce((n, t) => n + t.y.length, 0)"
        )
        assert bars == INDEPENDENT  # one bar per group, on the validator's workers
        verdicts = [
            tr.text for tr in browser.find_elements(By.CSS_SELECTOR, "#block-verdicts tbody tr")
        ]
        assert len(verdicts) == 2 and all("agree" in v for v in verdicts)
        txs = browser.find_elements(By.CSS_SELECTOR, "#block-txs tbody tr")
        assert len(txs) == INDEPENDENT
        browser.save_screenshot(str(tmp_path / "block.png"))

        txs[2].click()
        wait_for(lambda: _text(browser, "tx-hash").startswith("0x"), 10, "the transaction page")
        tx_hash = _text(browser, "tx-hash")
        facts = _text(browser, "tx-facts")
        assert "success" in facts and f"block\n{number}" in facts
        op = call(url, "pavm_getOperationReceipt", [tx_hash])
        assert f"group\n{op['group']}" in facts and op["readHash"] in facts
        browser.save_screenshot(str(tmp_path / "transaction.png"))

        search = browser.find_element(By.ID, "query")
        search.send_keys("0x1234\n")
        wait_for(lambda: "hash" in _text(browser, "error"), 10, "a clear error for a bad hash")
    finally:
        browser.quit()
