"""Turn a LaunchConfig into process specs: one parameters file and one command per node."""

from __future__ import annotations

from pathlib import Path

import yaml

from embodied_ai.launcher.config import LaunchConfig
from embodied_ai.launcher.supervisor import ProcessSpec, node_argv


def write_params_file(node_name: str, parameters: dict[str, object], directory: Path) -> Path:
    """A ROS 2 parameters file; ``/**`` applies it whatever the node is renamed to."""
    path = directory / f"{node_name}.params.yaml"
    path.write_text(yaml.safe_dump({"/**": {"ros__parameters": parameters}}, sort_keys=True), encoding="utf-8")
    return path


def graph_processes(config: LaunchConfig, run_dir: Path, only: set[str] | None = None) -> list[ProcessSpec]:
    run_dir.mkdir(parents=True, exist_ok=True)
    specs = []
    for name, node in config.nodes.items():
        if not node.enabled or (only and name not in only):
            continue
        params = write_params_file(name, dict(node.parameters), run_dir)
        specs.append(ProcessSpec(name, node_argv(node.package, node.executable, name, str(params)), node.respawn))
    if only and (unknown := only - set(config.nodes)):
        raise ValueError(f"no such node(s) in the config: {', '.join(sorted(unknown))}")
    return specs
