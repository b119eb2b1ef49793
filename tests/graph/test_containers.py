"""Nodes that share a process (a container) as an outside ROS client sees them: each a node of
its own, with its own name and parameters, in one process; a SIGKILL of that process brings all
of them back. A launcher of its own on a domain of its own: the simulated cameras follow its
servo controller's joint states."""

from __future__ import annotations

import os
import signal

import yaml
from sensor_msgs.msg import Image

from tests.conftest import REPO
from tests.graph.conftest import LaunchedGraph, private_domain_id
from tests.graph.ros_client import SENSOR_QOS, GraphClient

SIZES = {"shared_cam_a": (160, 120), "shared_cam_b": (96, 64)}
URDF_CAMERAS = {"shared_cam_a": "head_camera", "shared_cam_b": "wrist_camera"}


def camera(name: str, width: int, height: int) -> dict:
    return {"package": "embodied_ros", "executable": "camera", "process": "shared_cameras",
            "parameters": {"camera": URDF_CAMERAS[name], "source": "sim", "width": width, "height": height,
                           "rate_hz": 4.0,
                           "robot_description_file": str(REPO / "urdf" / "embodied_robot.urdf"),
                           "hardware_config_file": str(REPO / "launch" / "hardware_sim.yaml")}}


def images_of_each_camera(client: GraphClient) -> dict[str, tuple[int, int]]:
    return {name: (image.width, image.height) for name in SIZES
            for image in [client.latest(Image, f"/{name}/image_raw", timeout=60, qos=SENSOR_QOS)]}


def test_nodes_sharing_a_process_keep_their_names_and_parameters_and_come_back_together(tmp_path) -> None:
    path = tmp_path / "containers.yaml"
    robot = yaml.safe_load((REPO / "launch" / "robot.yaml").read_text())["nodes"]["servo_controller"]
    robot["parameters"] = {k: v.replace("$(root)", str(REPO)) if isinstance(v, str) else v
                           for k, v in robot["parameters"].items()}
    path.write_text(yaml.safe_dump({"nodes": {"servo_controller": robot,
                                              **{name: camera(name, *size) for name, size in SIZES.items()}}}))
    domain = private_domain_id()
    launched = LaunchedGraph("--config", str(path), env={"ROS_DOMAIN_ID": str(domain)})
    try:
        with GraphClient(domain) as client:
            assert images_of_each_camera(client) == SIZES
            expected = set(SIZES) | {"servo_controller"}
            client.wait_until(lambda: expected <= {name for name, _ in client.node.get_node_names_and_namespaces()},
                              10, f"nodes {sorted(expected)} in the graph")
            [pid] = launched.node_pids("shared_cameras")
            assert "shared_cameras: started (pid" in launched.output and "hosting shared_cam_a, shared_cam_b" \
                in launched.output
            os.kill(pid, signal.SIGKILL)
            launched.wait_for_output(r"shared_cameras: process exited with code -9", 20)
            client.wait_until(lambda: len(launched.node_pids("shared_cameras")) == 2, 30, "a restarted container")
            assert images_of_each_camera(client) == SIZES
    finally:
        assert launched.stop() == 0, launched.output[-2000:]
