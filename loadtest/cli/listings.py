"""``pavm workloads`` and ``pavm accounts``: what the testnets are loaded with, listed."""

from typing import Annotated

import typer

from loadtest.workloads.table import WORKLOADS


def workloads() -> None:
    """The paper's workloads: what each transaction calls, its scale knob and scales."""
    typer.echo(f"{'workload':<20}{'kind':<7}{'scale knob':<24}{'quick':<10}{'full (default)'}")
    for spec in WORKLOADS.values():
        quick = ", ".join(map(str, spec.quick_scales)) if spec.scale_label != "-" else "-"
        full = "-"
        if spec.scale_label != "-":
            full = f"{', '.join(map(str, spec.scales))} ({spec.default_scale})"
        typer.echo(f"{spec.name:<20}{spec.parallelism:<7}{spec.scale_label:<24}{quick:<10}{full}")


def accounts(
    count: Annotated[int, typer.Option(min=1, max=1000, help="How many accounts.")] = 10,
) -> None:
    """The prefunded development accounts (mnemonic 'test ... junk') and their keys."""
    from common.chain.accounts import DEV_MNEMONIC, dev_accounts

    typer.echo(f"mnemonic: {DEV_MNEMONIC}")
    for index, account in enumerate(dev_accounts(count)):
        funded = " (1,000,000 ETH at genesis)" if index < 10 else ""
        typer.echo(f"{index:>3}  0x{account.address.hex()}  0x{account.key.hex()}{funded}")
    typer.echo("(the miner signs with its own key, made at its first start: not one of these)")
