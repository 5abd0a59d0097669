"""The scenario file: a network, its links, a load and a timeline of faults, in YAML.

A file is checked whole before anything starts: every problem is reported with its
line and the path of the field (``scenario.yml:14: links[1].loss_pct: ...``), so a
mistake costs nothing but reading the message.
"""

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from common.errors import PavmError
from common.net.transport import Transport
from loadtest.testnet.settings import TestnetSettings, Validators, Workers
from loadtest.workloads.table import WORKLOADS

MAX_BYTES = 256 * 1024
"""Largest scenario file read."""
MAX_DEPTH = 32
"""Deepest nesting of mappings and lists read (a scenario needs four)."""
_OPEN = (yaml.BlockMappingStartToken, yaml.BlockSequenceStartToken)
_OPEN_FLOW = (yaml.FlowMappingStartToken, yaml.FlowSequenceStartToken)
_CLOSE = (yaml.BlockEndToken, yaml.FlowMappingEndToken, yaml.FlowSequenceEndToken)
Seconds = Annotated[float, Field(ge=0, le=24 * 3600)]


class ScenarioError(PavmError):
    """A scenario file that cannot be run, with every problem found, one per line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PROCESS_ONLY = (
    "base_port",
    "redis_url",
    "redis_password_file",
    "genesis",
    "gas_schedule",
    "dev",
    "validator_args",
)
"""Testnet settings of the process-mode launcher only, which a scenario (played on the
compose testnet) cannot honour."""


class Network(TestnetSettings):
    """The compose testnet to bring up (or find running): the testnet settings with a
    scenario's defaults, at least one validator to fault, and a CPU limit."""

    validators: Annotated[Validators, Field(ge=1)] = 6
    workers: Workers = 1
    transport: Transport = "both"
    cores: Annotated[float | None, Field(gt=0, le=256)] = None
    """CPUs each validator container may use (``None``: no limit)."""

    @field_validator(*PROCESS_ONLY, mode="before")
    @classmethod
    def _process_only(cls, value: object, info: ValidationInfo) -> object:
        raise ValueError(f"the compose testnet of a scenario takes no {info.field_name}")

    @field_validator("strategy")
    @classmethod
    def _one_strategy(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) > 1:
            raise ValueError("the compose testnet runs one strategy on every validator")
        return value


Nodes = list[str] | Literal["all", "validators"]
"""Node names (``miner``, ``redis``, ``validator-N``), a group defined in ``groups``,
or every node / every validator."""


class Behaviour(_Strict):
    """What a link does to the packets and bytes crossing it (both ways)."""

    latency_ms: Annotated[float, Field(ge=0, le=10_000)] = 0
    jitter_ms: Annotated[float, Field(ge=0, le=10_000)] = 0
    bandwidth_mbit: Annotated[float | None, Field(gt=0, le=100_000)] = None
    loss_pct: Annotated[float, Field(ge=0, le=100)] = 0

    @model_validator(mode="after")
    def _jitter_within_latency(self) -> "Behaviour":
        if self.jitter_ms > self.latency_ms:
            raise ValueError("jitter_ms may not exceed latency_ms")
        return self

    def behaviour(self) -> "Behaviour":
        """Just the behaviour, without whom it applies to."""
        return Behaviour(**self.model_dump(include=set(Behaviour.model_fields)))

    def describe(self) -> str:
        """``100 ms ± 10, 20 Mbit/s, 1 % loss``, or ``perfect``."""
        parts = []
        if self.latency_ms:
            jitter = f" ± {self.jitter_ms:g}" if self.jitter_ms else ""
            parts.append(f"{self.latency_ms:g} ms{jitter}")
        if self.bandwidth_mbit:
            parts.append(f"{self.bandwidth_mbit:g} Mbit/s")
        if self.loss_pct:
            parts.append(f"{self.loss_pct:g} % loss")
        return ", ".join(parts) or "perfect"


class Link(Behaviour):
    """How the links of ``nodes`` behave."""

    nodes: Nodes = "all"


class Load(_Strict):
    """What locust sends while the timeline plays."""

    workload: str = "erc20"
    conflict_rate: Annotated[float, Field(ge=0, le=1)] = 0.0
    users: Annotated[int | None, Field(ge=1, le=1000)] = None
    rate: Annotated[float | None, Field(gt=0, le=100_000)] = None
    """Transactions per second to aim at, instead of ``users``."""
    duration_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 60

    @model_validator(mode="after")
    def _one_intensity(self) -> "Load":
        if self.workload not in WORKLOADS:
            raise ValueError(f"workload {self.workload!r} is none of {', '.join(WORKLOADS)}")
        if self.users is not None and self.rate is not None:
            raise ValueError("give users or rate, not both")
        return self


class Fault(_Strict):
    """One event of the timeline, ``at`` seconds after the load started."""

    at: Seconds
    action: Literal[
        "kill",
        "restart",
        "partition",
        "heal",
        "stop-redis",
        "start-redis",
        "slow-link",
        "pause",
        "unpause",
    ]
    nodes: Nodes | None = None
    """Whom it hits (``kill``, ``restart``, ``partition``, ``pause``, ``unpause``,
    ``slow-link``); a partition cuts these nodes off from the rest."""
    link: Link | None = None
    """The new behaviour of ``slow-link``."""

    @model_validator(mode="after")
    def _arguments(self) -> "Fault":
        needs_nodes = {"kill", "restart", "partition", "pause", "unpause", "slow-link"}
        if self.action in needs_nodes and self.nodes is None:
            raise ValueError(f"{self.action} needs nodes")
        if self.action not in needs_nodes and self.nodes is not None:
            raise ValueError(f"{self.action} takes no nodes")
        if (self.action == "slow-link") != (self.link is not None):
            raise ValueError("slow-link, and only slow-link, takes a link")
        return self


class Scenario(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    description: str = ""
    network: Network = Network()
    groups: dict[str, list[str]] = {}
    """Named sets of nodes that links and faults may refer to."""
    links: list[Link] = []
    load: Load = Load()
    timeline: list[Fault] = []

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        known = {"miner", "redis", *(f"validator-{i + 1}" for i in range(self.network.validators))}
        for group, members in self.groups.items():
            if group in known or group in ("all", "validators"):
                raise ValueError(f"group {group!r} shadows a node name")
            for member in members:
                if member not in known:
                    raise ValueError(f"group {group!r}: no node {member!r}")
        for where, nodes in self._node_lists():
            for name in nodes:
                if name not in known and name not in self.groups:
                    raise ValueError(f"{where}: no node or group {name!r}")
        for fault in self.timeline:
            if fault.at > self.load.duration_s:
                raise ValueError(f"a fault at {fault.at} s is after the load ends")
        if [f.at for f in self.timeline] != sorted(f.at for f in self.timeline):
            raise ValueError("timeline events must be in time order")
        return self

    def _node_lists(self) -> list[tuple[str, list[str]]]:
        lists: list[tuple[str, Nodes | None]] = [
            (f"links[{i}]", link.nodes) for i, link in enumerate(self.links)
        ]
        lists += [(f"timeline[{i}]", f.nodes) for i, f in enumerate(self.timeline)]
        return [(where, nodes) for where, nodes in lists if isinstance(nodes, list)]

    def nodes(self, selector: "Nodes") -> list[str]:
        """The node names a selector stands for, groups expanded, in order."""
        validators = [f"validator-{i + 1}" for i in range(self.network.validators)]
        if selector == "all":
            return ["miner", "redis", *validators]
        if selector == "validators":
            return validators
        out: list[str] = []
        for name in selector:
            for node in self.groups.get(name, [name]):
                if node not in out:
                    out.append(node)
        return out


def load_scenario(path: Path) -> Scenario:
    """Read and check the scenario file at ``path``; :class:`ScenarioError` lists every
    problem with its line."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ScenarioError(f"{path}: {exc.strerror}") from None
    if size > MAX_BYTES:
        raise ScenarioError(f"{path}: larger than {MAX_BYTES} bytes")
    text = path.read_text()
    loader = yaml.SafeLoader(text)
    try:
        _check_depth(path, text)
        # One parse: the node tree gives the lines, the data is built from it.
        tree = loader.get_single_node()
        data = loader.construct_document(tree) if tree is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ScenarioError(f"{path}{line}: not YAML: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}:1: a scenario is a mapping (name, network, ...)")
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        problems = [
            f"{path}:{_line(tree, error['loc'])}: {_where(error['loc'])}: {error['msg']}"
            for error in exc.errors()
        ]
        raise ScenarioError("\n".join(problems)) from None


def _check_depth(path: Path, text: str) -> None:
    """Refuse nesting deeper than :data:`MAX_DEPTH` from the tokens alone, before the
    parser, which recurses per level, spends its time and stack on it."""
    depth = 0
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        if isinstance(token, _OPEN + _OPEN_FLOW):
            depth += 1
            if depth > MAX_DEPTH:
                line = token.start_mark.line + 1
                raise ScenarioError(f"{path}:{line}: nested deeper than {MAX_DEPTH} levels")
        elif isinstance(token, _CLOSE):
            depth -= 1


def _where(loc: tuple[Any, ...]) -> str:
    """``links[1].loss_pct`` for pydantic's ``('links', 1, 'loss_pct')``; union-branch
    names pydantic adds (``list[str]``, ``literal[...]``) are left out."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif "[" in part or part.startswith("function-"):
            continue
        else:
            out += ("." if out else "") + part
    return out or "scenario"


def _line(node: Any, loc: tuple[Any, ...]) -> int:
    """The line of the deepest YAML node along ``loc`` that exists."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        child = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            child = next((v for k, v in node.value if k.value == part), None)
            if child is None:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if part < len(node.value) else None
        if child is None:
            continue
        node, line = child, child.start_mark.line + 1
    return line


def describe(plan: Scenario) -> list[str]:
    """The scenario in words: network, links, load and the timeline."""
    net, load = plan.network, plan.load
    lines = [
        f"{plan.name}: {plan.description}".rstrip(": "),
        f"network: {net.validators} validators x {net.workers} workers, "
        f"{net.transport} transport, {','.join(net.strategy)} strategy"
        + (f", {net.cores:g} cores each" if net.cores else ""),
    ]
    lines += [f"link {', '.join(plan.nodes(link.nodes))}: {link.describe()}" for link in plan.links]
    intensity = f"{load.rate:g} tx/s" if load.rate else f"{load.users or 1} users"
    lines.append(
        f"load: {load.workload}, conflict rate {load.conflict_rate:g}, {intensity}, "
        f"{load.duration_s:g} s"
    )
    for fault in plan.timeline:
        whom = f" {', '.join(plan.nodes(fault.nodes))}" if fault.nodes is not None else ""
        how = f" to {fault.link.describe()}" if fault.link is not None else ""
        lines.append(f"  {fault.at:g} s: {fault.action}{whom}{how}")
    return lines
