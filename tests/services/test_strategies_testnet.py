"""A testnet whose four validators run the four strategies agrees on every block:
ETH transfers, half of them to one hot receiver (a chain of conflicts), half to
receivers of their own, over several blocks."""

from common.chain.accounts import Wallet, dev_accounts, sign
from common.chain.state import ChainConfig
from common.rpc.client import call
from loadtest.testnet import process as testnet
from tests.services.helpers import all_agree, start_testnet, wait_for
from validator.strategies import STRATEGIES


def _mined(net: testnet.Testnet, senders: list[Wallet], count: int) -> bool:
    return all(
        int(call(net.miner.url, "eth_getTransactionCount", ["0x" + w.address.hex()]), 16) == count
        for w in senders
    )


def test_validators_of_every_strategy_agree_on_every_block(tmp_path):
    net = start_testnet(tmp_path, validators=4, workers=2, strategy=STRATEGIES, block_interval=0.5)
    try:
        infos = [call(v.url, "pavm_nodeInfo") for v in net.validators]
        assert [info["strategy"] for info in infos] == list(STRATEGIES)
        senders = dev_accounts(6)
        for nonce in range(3):
            for i, wallet in enumerate(senders):
                to = b"\x51" * 20 if i % 2 else bytes([0x60 + i]) * 20
                raw = sign(wallet, nonce, to, config=ChainConfig(), value=1 + i, gas=21_000)
                call(net.miner.url, "eth_sendRawTransaction", ["0x" + raw.hex()])
        wait_for(lambda: _mined(net, senders, 3), timeout=60, what="all 18 transfers mined")
        head = int(call(net.miner.url, "eth_blockNumber"), 16)
        agreed = wait_for(
            lambda: (all_agree(net) or 0) >= head and all_agree(net),
            timeout=90,
            what="every validator's agree verdict on every block",
        )
        roots = {
            call(v.url, "eth_getBlockByNumber", [hex(agreed), False])["stateRoot"]
            for v in net.validators
        }
        assert len(roots) == 1
        for v in net.validators:
            info = call(v.url, "pavm_nodeInfo")
            assert not info["rejected"] and info["validated"] >= 1, info
    finally:
        testnet.down(net)
