"""Seed 004's ``pipeline_config`` and its validation: every problem found at once, before anything runs.

    {"run_id": "abc123",
     "nodes": [{"agent_name": "dataset", "agent_class": "DatasetAgent", "config": {...}}, ...],
     "edges": [{"from_agent": "dataset", "to_agent": "validation"}, ...],
     "global_config": {"max_retries": 3}}

``validate_pipeline`` checks the shape, each node's ``agent_class`` (a registered class) and its
``config`` (the class's config model: unknown fields refused), unique agent names, edges between
existing nodes, no cycle (its nodes named), every agent that reads an input has an edge into it, and,
given the running system's services, what only they can tell (the dataset file exists inside the
datasets directory, the training service is there). It raises `InvalidRequest` (400) listing every
problem, each as ``where: what`` (``nodes[2] (preprocessing).config.template: ...``), or returns the
`Pipeline`: its nodes in the order they run.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from embodied_ai.errors import InvalidRequest
from embodied_ai.pipelines.agents import Agent, AgentConfig
from embodied_ai.pipelines.registry import AGENT_CLASSES
from embodied_ai.pipelines.services import PipelineServices

# An agent name is also a step name and a file name in the job's work directory.
AGENT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
MAX_RETRIES_LIMIT = 10


class NodeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agent_name: str = Field(pattern=AGENT_NAME_PATTERN,
                            description="the node's name: letters, digits, '_', '-', '.', at most 64")
    agent_class: str = Field(min_length=1, description="a registered agent class, e.g. DatasetAgent")
    config: dict[str, Any] = Field(default_factory=dict, description="the agent class's config")


class EdgeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    from_agent: str = Field(description="the agent_name that runs first")
    to_agent: str = Field(description="the agent_name that reads its outputs")


class GlobalConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_retries: int = Field(default=3, ge=0, le=MAX_RETRIES_LIMIT, description="retries of a failed step")


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str | None = Field(default=None, min_length=1, max_length=128, description="the client's name for the run")
    nodes: list[NodeSpec] = Field(min_length=1)
    edges: list[EdgeSpec] = Field(default_factory=list)
    global_config: GlobalConfig = GlobalConfig()


class _Shell(BaseModel):
    """The top level alone, so that each node, edge and the global config are checked on their own."""

    model_config = ConfigDict(extra="forbid")
    run_id: str | None = Field(default=None, min_length=1, max_length=128)
    nodes: list[Any] = Field(min_length=1)
    edges: list[Any] = Field(default_factory=list)
    global_config: Any = None


@dataclass(frozen=True)
class PipelineNode:
    name: str
    agent_class: str
    agent: Agent                        # built with its validated config
    upstream: tuple[str, ...]           # the nodes with an edge into this one
    ancestors: tuple[str, ...]          # every node upstream of it, in run order: its inputs


@dataclass(frozen=True)
class Pipeline:
    config: PipelineConfig
    nodes: tuple[PipelineNode, ...]     # in the order they run (dependencies first)

    @property
    def order(self) -> tuple[str, ...]:
        return tuple(node.name for node in self.nodes)

    @property
    def max_retries(self) -> int:
        return self.config.global_config.max_retries

    @property
    def run_id(self) -> str | None:
        return self.config.run_id

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(edge.from_agent, edge.to_agent) for edge in self.config.edges]


def validate_pipeline(config: Any, agents: Mapping[str, type[Agent]] = AGENT_CLASSES,
                      services: PipelineServices | None = None) -> Pipeline:
    """The pipeline ``config`` describes (a seed 004 ``pipeline_config``); InvalidRequest with every problem.
    ``services``: also check what depends on the running system (files, datasets, services)."""
    if isinstance(config, PipelineConfig):
        config = config.model_dump()
    if not isinstance(config, Mapping):
        raise InvalidRequest("invalid pipeline_config", [
            f"pipeline_config: expected an object, got {type(config).__name__}"])
    problems: list[str] = []
    problems += _errors(_Shell, config, "")

    nodes: dict[str, tuple[int, NodeSpec, type[Agent] | None, AgentConfig | None]] = {}
    named: set[str] = set()             # every agent name given, even on a node with other problems
    raw_nodes = config.get("nodes")
    for index, raw in enumerate(raw_nodes if isinstance(raw_nodes, list) else []):
        name = raw.get("agent_name") if isinstance(raw, Mapping) else None
        where = f"nodes[{index}]" + (f" ({name})" if isinstance(name, str) and name else "")
        if isinstance(name, str):
            named.add(name)
        errors = _errors(NodeSpec, raw, where)
        if errors:
            problems += errors
            continue
        node = NodeSpec.model_validate(raw)
        cls = agents.get(node.agent_class)
        agent_config: AgentConfig | None = None
        if cls is None:
            problems.append(f"{where}.agent_class: unknown agent class {node.agent_class!r} (known: "
                            f"{', '.join(agents)})")
        else:
            errors = _errors(cls.config_model, node.config, f"{where}.config")
            problems += errors
            if not errors:
                agent_config = cls.config_model.model_validate(node.config)
        if node.agent_name in nodes:
            problems.append(f"{where}.agent_name: {node.agent_name!r} is already the name of "
                            f"nodes[{nodes[node.agent_name][0]}]")
        else:
            nodes[node.agent_name] = (index, node, cls, agent_config)

    edges: list[EdgeSpec] = []
    raw_edges = config.get("edges")
    for index, raw in enumerate(raw_edges if isinstance(raw_edges, list) else []):
        errors = _errors(EdgeSpec, raw, f"edges[{index}]")
        if errors:
            problems += errors
            continue
        edge = EdgeSpec.model_validate(raw)
        ends = (("from_agent", edge.from_agent), ("to_agent", edge.to_agent))
        missing = [f"edges[{index}].{end}: {name!r} is not the agent_name of a node" for end, name in ends
                   if name not in named]
        problems += missing
        if not missing and edge.from_agent in nodes and edge.to_agent in nodes:
            edges.append(edge)

    if config.get("global_config") is not None:
        problems += _errors(GlobalConfig, config["global_config"], "global_config")

    order, cycles = _order(list(nodes), [(e.from_agent, e.to_agent) for e in edges])
    problems += [f"edges: cycle {' -> '.join(cycle)}" for cycle in cycles]

    has_input = {e.to_agent for e in edges}
    for name, (index, node, cls, agent_config) in nodes.items():
        where = f"nodes[{index}] ({name})"
        if cls is not None and cls.needs_input and name not in has_input:
            problems.append(f"{where}: a {node.agent_class} reads what an upstream node made: add an edge into "
                            "it (from a DatasetAgent, for instance)")
        if cls is not None and agent_config is not None and services is not None:
            problems += [f"{where}: {problem}" for problem in cls.check(agent_config, services)]

    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise InvalidRequest(f"invalid pipeline_config ({count})", problems)
    return _pipeline(PipelineConfig.model_validate(config), nodes, order)


def _pipeline(config: PipelineConfig, nodes: Mapping[str, tuple[int, NodeSpec, type[Agent] | None,
                                                                AgentConfig | None]], order: list[str]) -> Pipeline:
    parents: dict[str, list[str]] = {name: [] for name in order}
    for edge in config.edges:
        if edge.from_agent not in parents[edge.to_agent]:
            parents[edge.to_agent].append(edge.from_agent)
    position = {name: i for i, name in enumerate(order)}
    built = []
    ancestors: dict[str, set[str]] = {}
    for name in order:
        _, node, cls, agent_config = nodes[name]
        assert cls is not None and agent_config is not None    # validated above
        ancestors[name] = set(parents[name]).union(*(ancestors[p] for p in parents[name]))
        built.append(PipelineNode(
            name=name, agent_class=node.agent_class, agent=cls(agent_config),
            upstream=tuple(sorted(parents[name], key=position.__getitem__)),
            ancestors=tuple(sorted(ancestors[name], key=position.__getitem__))))
    return Pipeline(config=config, nodes=tuple(built))


def _order(names: list[str], edges: list[tuple[str, str]]) -> tuple[list[str], list[list[str]]]:
    """Kahn's topological order (ties in the order the nodes were given) and, when some nodes cannot be
    ordered, the cycles among them, each as its path back to its first node."""
    successors: dict[str, list[str]] = {name: [] for name in names}
    indegree = dict.fromkeys(names, 0)
    for source, target in set(edges):
        successors[source].append(target)
        indegree[target] += 1
    rank = {name: i for i, name in enumerate(names)}
    ready = [(rank[name], name) for name in names if indegree[name] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        _, name = heapq.heappop(ready)
        order.append(name)
        for target in successors[name]:
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, (rank[target], target))
    left = [name for name in names if name not in set(order)]
    cycles: list[list[str]] = []
    reported: set[str] = set()
    for start in left:
        if start in reported:
            continue
        cycle = _cycle_through(start, successors, set(left))
        if cycle:
            cycles.append(cycle)
            reported.update(cycle)
    return order, cycles


def _cycle_through(start: str, successors: Mapping[str, list[str]], among: set[str]) -> list[str] | None:
    """The shortest path from ``start`` back to itself within ``among`` (breadth first), or None."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for name in frontier:
            for target in sorted(successors[name]):
                if target == start:
                    path = [name]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if target in among and target not in previous:
                    previous[target] = name
                    following.append(target)
        frontier = following
    return None


def _errors(model: type[BaseModel], value: Any, where: str) -> list[str]:
    """``model``'s complaints about ``value``, each as ``where.field: message``."""
    try:
        model.model_validate(value)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            path = where + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in item["loc"])
            path = path.lstrip(".") or "pipeline_config"
            if item["type"] == "extra_forbidden":
                message = f"unknown field (accepted: {', '.join(model.model_fields) or 'none'})"
            elif item["type"] == "missing":
                message = "field required"
            else:
                message = str(item["msg"]).removeprefix("Value error, ")
            problems.append(f"{path}: {message}")
        return problems
    return []
