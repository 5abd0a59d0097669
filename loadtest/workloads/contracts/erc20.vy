# pragma version 0.4.3
# pragma evm-version cancun
"""
@title ERC20 token for pavm-net workloads
@notice A plain ERC20 (transfer, approve, transferFrom) plus `distribute`, which
        funds many holders in one transaction when a workload is set up.
"""

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

name: public(String[32])
symbol: public(String[8])
decimals: public(uint8)
totalSupply: public(uint256)
balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])


@deploy
def __init__(supply: uint256):
    self.name = "PaVM Token"
    self.symbol = "PAVM"
    self.decimals = 18
    self.totalSupply = supply
    self.balanceOf[msg.sender] = supply
    log Transfer(sender=empty(address), receiver=msg.sender, value=supply)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self.balanceOf[msg.sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=msg.sender, receiver=receiver, value=amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def transferFrom(owner: address, receiver: address, amount: uint256) -> bool:
    self.allowance[owner][msg.sender] -= amount
    self.balanceOf[owner] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=owner, receiver=receiver, value=amount)
    return True


@external
def distribute(receivers: DynArray[address, 1024], amount: uint256):
    total: uint256 = amount * len(receivers)
    self.balanceOf[msg.sender] -= total
    for receiver: address in receivers:
        self.balanceOf[receiver] += amount
        log Transfer(sender=msg.sender, receiver=receiver, value=amount)
