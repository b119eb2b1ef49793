"""The container's command line: each --node names a node, its module's component factory and
its parameters file."""

from __future__ import annotations

import pytest

from embodied_ros import camera, sensors
from embodied_ros.container import parse


def test_each_node_gets_its_factory_name_and_parameters_file() -> None:
    hosted = parse(["--node", "left", "embodied_ros.camera", "/p/left.yaml",
                    "--node", "body", "embodied_ros.sensors", "/p/body.yaml"])
    assert [(h.name, h.factory) for h in hosted] == [("left", camera.component), ("body", sensors.component)]
    assert hosted[0].node_options["cli_args"] == ["--ros-args", "-r", "__node:=left", "--params-file", "/p/left.yaml"]
    assert hosted[0].node_options["use_global_arguments"] is False


def test_a_namespaced_name_puts_the_node_in_its_namespace() -> None:
    [hosted] = parse(["--node", "robot_2/policy", "embodied_ros.camera", "/p/policy.yaml"])
    assert hosted.node_options["cli_args"] == ["--ros-args", "-r", "__ns:=/robot_2", "-r", "__node:=policy",
                                               "--params-file", "/p/policy.yaml"]


@pytest.mark.parametrize("argv, message", [
    (["--node", "a", "embodied_ros.camera", "/a.yaml", "--node", "a", "embodied_ros.sensors", "/b.yaml"], "unique"),
    (["--node", "a", "embodied_ros.kit.qos", "/a.yaml"], "no component"),
    ([], "--node"),
])
def test_bad_command_lines_are_refused(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    assert message in str(exited.value.code) + capsys.readouterr().err
