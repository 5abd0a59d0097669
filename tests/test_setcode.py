"""Prague's EIP-7702: a set-code transaction and a call into the delegated account.

The authority's code becomes a delegation to the probe; calling the authority runs
the probe's code on the authority's own storage. Both blocks are checked against
unmodified py-evm (in Chain.mine) and accepted by a parallel validator.
"""

from eth_account import Account
from eth_utils import to_checksum_address

from common.chain.accounts import GWEI
from loadtest.workloads.contracts import load
from tests.conftest import CONFIG, MINER, Chain
from validator.validate import Validator

PROBE = load("probe")


def test_set_code_delegation_is_recorded_and_validated(deployed, people):
    chain = Chain(deployed.state, dict(deployed.nonces))
    authority, sponsor = people[10], people[11]
    auth_nonce = chain.nonces.get(authority.address, 0)
    authorization = Account.sign_authorization(
        {
            "chainId": CONFIG.chain_id,
            "address": to_checksum_address(deployed.probe),
            "nonce": auth_nonce,
        },
        authority.key,
    )
    sponsor_nonce = chain.nonces.get(sponsor.address, 0)
    chain.nonces[sponsor.address] = sponsor_nonce + 1
    set_code = Account.sign_transaction(
        {
            "type": 4,
            "chainId": CONFIG.chain_id,
            "nonce": sponsor_nonce,
            "to": to_checksum_address(sponsor.address),
            "value": 0,
            "data": b"",
            "gas": 100_000,
            "maxFeePerGas": 100 * GWEI,
            "maxPriorityFeePerGas": GWEI,
            "authorizationList": [authorization],
        },
        sponsor.key,
    ).raw_transaction
    chain.nonces[authority.address] = auth_nonce + 1
    first = chain.mine([bytes(set_code)])
    write = first.outcomes[0].rwset.writes[authority.address]
    assert write.code == b"\xef\x01\x00" + deployed.probe  # the delegation designator
    assert write.nonce == auth_nonce + 1

    call = chain.tx(people[1], authority.address, data=PROBE.call_data("set_value", 3, 99))
    second = chain.mine([call])
    outcome = second.outcomes[0]
    assert outcome.receipt.status == 1
    assert list(outcome.rwset.writes[authority.address].storage.values()) == [99]

    with Validator(deployed.state, MINER, workers=2) as validator:
        validator.validate(first.block)
        validator.validate(second.block)
        assert validator.state.head.state_root == second.block.header.state_root
