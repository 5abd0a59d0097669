# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Probe contract for the recording tests
@notice One entry point per kind of state access the recorder must see: storage,
        reverts (whole and inner), out-of-gas, logs, transient storage, CREATE2,
        SELFDESTRUCT, precompiles, value transfers and reads of the coinbase.
"""

interface Probe:
    def destroy(to: address): nonpayable
    def set_then_revert(key: uint256, amount: uint256): nonpayable

event Poked:
    who: indexed(address)
    value: uint256

counter: public(uint256)
values: public(HashMap[uint256, uint256])
scratch: transient(uint256)


@deploy
@payable
def __init__():
    pass


@external
@payable
def __default__():
    pass


@external
def set_value(key: uint256, amount: uint256):
    self.values[key] = amount
    log Poked(who=msg.sender, value=amount)


@external
def add_value(key: uint256, amount: uint256):
    self.values[key] += amount


@external
def bump():
    self.counter += 1


@external
def set_then_revert(key: uint256, amount: uint256):
    self.values[key] = amount
    raise "reverted on purpose"


@external
def inner_revert(key: uint256, amount: uint256):
    # The inner call reads and writes values[key] and then reverts: its read still
    # counts, its write does not.
    extcall Probe(self).set_then_revert(key, amount)


@external
def try_inner_revert(key: uint256, amount: uint256):
    success: bool = raw_call(
        self,
        abi_encode(key, amount, method_id=method_id("set_then_revert(uint256,uint256)")),
        revert_on_failure=False,
    )
    self.counter += 1


@external
def burn_gas(key: uint256):
    for i: uint256 in range(100000):
        self.values[key + i] = i + 1


@external
def transient_sum(key: uint256, a: uint256, b: uint256) -> uint256:
    self.scratch = a
    self.scratch += b
    self.values[key] = self.scratch
    return self.scratch


@external
def read_coinbase(key: uint256):
    self.values[key] = block.coinbase.balance


@external
@payable
def pay(receiver: address):
    send(receiver, msg.value)


@external
def clone(salt: bytes32) -> address:
    return create_copy_of(self, salt=salt)


@external
def clone_and_destroy(salt: bytes32, heir: address) -> address:
    child: address = create_copy_of(self, salt=salt)
    extcall Probe(child).destroy(heir)
    return child


@external
def destroy(to: address):
    selfdestruct(to)


@external
def hash_it(key: uint256, data: Bytes[64]):
    self.values[key] = convert(sha256(data), uint256)
