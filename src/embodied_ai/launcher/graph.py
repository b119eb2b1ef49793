"""Turn a LaunchConfig into process specs: a parameters file per node, and a command per
process (a node alone, or a container hosting the nodes that share a process)."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from embodied_ai.launcher.config import LaunchConfig, namespaced
from embodied_ai.launcher.supervisor import ProcessSpec, node_argv

CONTAINER_MODULE = "embodied_ros.container"


def write_params_file(node_name: str, parameters: dict[str, object], directory: Path) -> Path:
    """A ROS 2 parameters file; ``/**`` applies it whatever the node is renamed to."""
    path = directory / f"{node_name.replace('/', '.')}.params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": parameters}}, sort_keys=True), encoding="utf-8")
    return path


def container_argv(nodes: list[tuple[str, str, str]]) -> list[str]:
    """The command line of a container hosting ``nodes`` (name, module, parameters file)."""
    argv = [sys.executable, "-m", CONTAINER_MODULE]
    for name, module, params_file in nodes:
        argv += ["--node", name, module, params_file]
    return argv


def graph_processes(config: LaunchConfig, run_dir: Path, only: set[str] | None = None) -> list[ProcessSpec]:
    """One spec per process; with ``only``, just those nodes (a shared process hosts fewer)."""
    if only and (unknown := only - set(config.nodes)):
        raise ValueError(f"no such node(s) in the config: {', '.join(sorted(unknown))}")
    run_dir.mkdir(parents=True, exist_ok=True)
    specs = []
    for process, members in config.processes().items():
        members = [name for name in members if not only or name in only]
        params = {name: str(write_params_file(name, dict(config.nodes[name].parameters), run_dir)) for name in members}
        if len(members) == 1:
            node = config.nodes[members[0]]
            namespace, name = namespaced(members[0])
            argv = node_argv(node.package, node.executable, name, params[members[0]], namespace)
            specs.append(ProcessSpec(members[0], argv, node.respawn))
        elif members:
            hosted = [(name, f"{config.nodes[name].package}.{config.nodes[name].executable}", params[name])
                      for name in members]
            specs.append(ProcessSpec(process, container_argv(hosted), config.nodes[members[0]].respawn, members))
    return specs
