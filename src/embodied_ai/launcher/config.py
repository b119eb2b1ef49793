"""The launch configuration (launch/robot.yaml), shared with launch/robot.launch.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

ParameterValue = Union[bool, int, float, str, list[bool], list[int], list[float], list[str]]
ROOT_SUBSTITUTION = "$(root)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DdsConfig(_Strict):
    domain_id: int = Field(default=42, ge=0, le=232)
    localhost_only: bool = True
    fastdds_profile: str | None = None


class RestartPolicy(_Strict):
    initial_backoff_s: float = Field(default=1.0, gt=0)
    max_backoff_s: float = Field(default=30.0, gt=0)
    stable_after_s: float = Field(default=30.0, gt=0)


class NodeSpec(_Strict):
    package: str
    executable: str
    respawn: bool = True
    enabled: bool = True
    # Nodes naming the same process share one (a component container); none: a process of its own.
    process: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    parameters: dict[str, ParameterValue] = {}


class FleetConfig(_Strict):
    """More simulated robots in the same graph, each under its own namespace (a policy deployment's
    ``replicas``): robot 1 is the graph's own, in the root namespace; robot k runs copies of
    ``robot_nodes`` under ``/robot_k``, in one process per robot."""

    robots: int = Field(default=1, ge=1, le=16)
    robot_nodes: list[str] = ["servo_controller", "policy"]


def namespaced(key: str) -> tuple[str, str]:
    """A node key of the config as (namespace, node name): ``robot_2/policy`` -> (``/robot_2``, ``policy``)."""
    namespace, _, name = key.rpartition("/")
    return (f"/{namespace}" if namespace else ""), name


class LaunchConfig(_Strict):
    dds: DdsConfig = DdsConfig()
    restart: RestartPolicy = RestartPolicy()
    fleet: FleetConfig = FleetConfig()
    nodes: dict[str, NodeSpec]

    @model_validator(mode="after")
    def _fleet_nodes_exist(self) -> LaunchConfig:
        if self.fleet.robots > 1 and (missing := [n for n in self.fleet.robot_nodes if n not in self.nodes]):
            raise ValueError(f"fleet.robot_nodes names no node of the config: {', '.join(missing)}")
        return self

    def with_fleet(self) -> LaunchConfig:
        """The config with robots 2..fleet.robots added: ``robot_k/<node>`` for each robot node, sharing
        process ``robot_k`` (simulated robots: one interpreter each keeps N robots affordable)."""
        nodes = dict(self.nodes)
        for k in range(2, self.fleet.robots + 1):
            for name in self.fleet.robot_nodes:
                nodes[f"robot_{k}/{name}"] = self.nodes[name].model_copy(update={"process": f"robot_{k}"})
        return self.model_copy(update={"nodes": nodes})

    @model_validator(mode="after")
    def _processes_are_consistent(self) -> LaunchConfig:
        problems = [f"process '{spec.process}' of node '{name}' has the name of another node"
                    for name, spec in self.nodes.items()
                    if spec.process and spec.process != name and spec.process in self.nodes
                    and self.nodes[spec.process].process != spec.process]
        problems += [f"the nodes of process '{process}' disagree on respawn: {', '.join(members)}"
                     for process, members in self.processes().items()
                     if len({self.nodes[m].respawn for m in members}) > 1]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def processes(self) -> dict[str, list[str]]:
        """Process name -> the names of the enabled nodes it hosts, in the config's order."""
        processes: dict[str, list[str]] = {}
        for name, node in self.nodes.items():
            if node.enabled:
                processes.setdefault(node.process or name, []).append(name)
        return processes


def _substitute(value: object, root: Path) -> object:
    if isinstance(value, str):
        return value.replace(ROOT_SUBSTITUTION, str(root))
    if isinstance(value, list):
        return [_substitute(v, root) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, root) for k, v in value.items()}
    return value


def _parse_override(text: str) -> tuple[str, str, object]:
    """'node.param=value' -> (node, param, YAML-typed value)."""
    key, sep, raw = text.partition("=")
    node, dot, param = key.partition(".")
    if not sep or not dot or not node or not param:
        raise ValueError(f"override '{text}' must look like node.parameter=value")
    return node, param, yaml.safe_load(raw)


def load_launch_config(path: str | Path, overrides: Sequence[str] = (), root: Path | None = None,
                       robots: int | None = None) -> LaunchConfig:
    """Load and validate the config; ``$(root)`` becomes ``root`` (default: the config's parent's parent);
    ``robots`` overrides ``fleet.robots``, and the fleet's further robots are added as nodes."""
    path = Path(path).resolve()
    root = root or path.parent.parent
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read launch config {path}: {exc}") from exc
    for override in overrides:
        node, param, value = _parse_override(override)
        if node not in data.get("nodes", {}):
            raise ValueError(f"override '{override}': no node '{node}' in {path}")
        parameters = data["nodes"][node].setdefault("parameters", {})
        # ROS parameters are typed: "rate_hz=100" must stay a double if the config has 200.0.
        if isinstance(parameters.get(param), float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        parameters[param] = value
    if robots is not None:
        data.setdefault("fleet", {})["robots"] = robots
    try:
        return LaunchConfig.model_validate(_substitute(data, root)).with_fleet()
    except ValidationError as exc:
        raise ValueError(f"invalid launch config {path}: {exc}") from exc
