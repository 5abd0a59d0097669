"""The miner skips invalid transactions with a reason and never fails the block."""

import rlp
from eth_account import Account

from common.chain.accounts import GWEI, genesis_alloc, sign, wallets
from common.chain.state import ChainConfig, ChainState
from miner.builder import build_block
from tests.conftest import CONFIG, MINER, MINER_KEY, Chain
from validator.validate import validate_block


def test_invalid_transactions_are_skipped_with_reasons(genesis, people):
    chain = Chain(genesis)
    good = chain.tx(people[1], people[2].address, value=1, gas=21_000)
    broke = wallets(1, offset=777)[0]  # never funded
    cases = {
        "undecodable": b"\x02\xf8\x01",
        "wrong chain": sign(people[3], 0, people[2].address, config=ChainConfig(chain_id=1)),
        "nonce gap": sign(people[4], 5, people[2].address, config=CONFIG, gas=21_000),
        "insufficient balance": sign(broke, 0, people[2].address, config=CONFIG, gas=21_000),
        "intrinsic gas": sign(people[5], 0, people[2].address, config=CONFIG, gas=20_000),
        "bad signature": _with_bad_signature(people[6]),
        "no room in the block": sign(
            people[7], 0, people[2].address, config=CONFIG, gas=CONFIG.gas_limit + 1
        ),
    }
    built = build_block(genesis, [good, *cases.values()], MINER_KEY)
    assert built.block.transactions == (good,)
    reasons = {s.position: s.reason for s in built.skipped}
    assert sorted(reasons) == list(range(1, len(cases) + 1))
    expected = [
        "rlp: undecodable transaction",
        "invalid chain id for signer: have 1 want 31337",
        "nonce too high: next nonce 0, tx nonce 5",
        "insufficient funds for gas * price + value: balance 0, tx cost 2100000000000000",
        "intrinsic gas too low: have 20000, want 21000",
        "invalid sender",
        "exceeds block gas limit",
    ]
    for position, fragment in enumerate(expected, start=1):
        assert reasons[position].startswith(fragment), (position, reasons[position])


def _with_bad_signature(wallet) -> bytes:
    """A type-2 transaction whose signature has s = 0, which no key can produce."""
    raw = sign(wallet, 0, wallet.address, config=CONFIG, gas=21_000)
    fields: list[bytes] = rlp.decode(raw[1:])
    fields[-1] = b""
    encoded: bytes = rlp.encode(fields)
    return raw[:1] + encoded


def test_same_sender_transactions_share_a_group(chain, people):
    txs = [chain.tx(people[1], people[i].address, value=1, gas=21_000) for i in (2, 3, 4)]
    txs.append(chain.tx(people[5], people[6].address, value=1, gas=21_000))
    built = chain.mine(txs)
    assert built.block.groups == ((0, 1, 2), (3,))


def test_fees_go_to_the_miner_once_per_block(chain, people):
    before = chain.state
    txs = [chain.tx(w, people[0].address, value=1, gas=21_000, tip=2 * GWEI) for w in people[1:4]]
    built = chain.mine(txs)
    credited = sum(o.receipt.gas_used for o in built.outcomes) * 2 * GWEI
    miner = Account.from_key(MINER_KEY).address
    db_before, db_after = before.account_db(), built.state.account_db()
    raw = bytes.fromhex(miner[2:])
    assert db_after.get_balance(raw) - db_before.get_balance(raw) == credited


def test_empty_block_is_built_and_validated(genesis):
    built = build_block(genesis, [], MINER_KEY)
    assert built.block.transactions == () and built.block.groups == ()
    assert built.block.header.state_root == genesis.head.state_root
    assert validate_block(genesis, built.block, MINER, workers=2) == built.block.header


def test_transactions_that_do_not_fit_are_deferred_not_dropped(people):
    """Room and base fee are this block's problem: the miner keeps those transactions
    (and later ones of the same sender) for the next block; more gas than any block
    has is the transaction's own problem and it is dropped."""
    config = ChainConfig(gas_limit=60_000)
    genesis = ChainState.genesis(genesis_alloc(people), config)

    def tx(wallet, nonce, **fields):
        return sign(wallet, nonce, people[0].address, config=config, value=1, **fields)

    first = tx(people[1], 0, gas=21_000)  # leaves 39,000 gas of room
    no_room = tx(people[2], 0, gas=40_000)
    behind = tx(people[2], 1, gas=21_000)  # would fit, but waits for its sender's
    cheap = tx(people[3], 0, gas=21_000, max_fee=1, tip=0)  # below the base fee
    never = tx(people[4], 0, gas=60_001)  # more than a whole block
    fits = tx(people[5], 0, gas=21_000)
    built = build_block(genesis, [first, no_room, behind, cheap, never, fits], MINER_KEY)
    assert built.block.transactions == (first, fits)
    assert {s.position: s.deferred for s in built.skipped} == {
        1: True,
        2: True,
        3: True,
        4: False,
    }
