"""docs/rpc.md's method list is the one the nodes serve (regenerate it with
``python -m loadtest.cli.methods --write``)."""

from loadtest.cli.methods import BEGIN, END, PAGE, markdown, served


def test_rpc_page_lists_exactly_the_served_methods():
    text = PAGE.read_text()
    shown = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert shown == markdown(), "run: python -m loadtest.cli.methods --write"


def test_validators_serve_no_pool_and_no_verdicts():
    dev, miner, validator = served()
    assert set(validator) - set(miner) == {"pavm_getValidationReport", "pavm_getEquivocations"}
    assert set(miner) < set(dev)
    assert set(dev) - set(miner) >= {"eth_sendTransaction", "evm_mine"}
    assert set(miner) - set(validator) == {
        "eth_sendRawTransaction",
        "eth_newPendingTransactionFilter",
        "pavm_getVerdicts",
        "txpool_content",
        "txpool_contentFrom",
        "txpool_inspect",
        "txpool_status",
    }
