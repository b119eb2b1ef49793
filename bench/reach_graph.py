"""Reaching through the graph: the reference reaching policy (models/skills/reach_ppo, built by
scripts/train_reach_policy.py) deployed with seed 001's deploy (replicas 2, strategy rolling) onto
two simulated robots, then seeded reaching episodes on each robot through the graph, against the
same policy on the same seeds in the environment (the baseline, in the same run).

An episode through the graph: the robot's policy node is deactivated (lifecycle), the arm moved
to the episode's start pose (the servo controller's move_joints action), the episode's target
sent on the robot's policy_target, the node activated; the episode succeeds when the fingers
(forward kinematics of the robot's joint_states) come within the task's tolerance (0.02 m) within
the episode's time (max_episode_steps / control_rate_hz: 6 s). Start poses and targets are the
environment's for the same seeds (900 000 + k), so both measure the same episodes.

    .venv/bin/python bench/reach_graph.py [--episodes 25] [--quick]     # episodes per robot

Prints both success rates and their ratio, the deployment's record, and writes
bench/results/reach_graph.json. About 1 minute to start, then up to ~8 s per episode.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench._graph import EMBODIED, Proc, dds_env, dds_settings  # noqa: E402
from bench._results import git_state, load  # noqa: E402

POLICY_DIR = REPO / "models" / "skills" / "reach_ppo"
RESULTS = REPO / "bench" / "results" / "reach_graph.json"
HELD_OUT_SEED = 900_000
ROBOTS = {"robot_1": "", "robot_2": "/robot_2"}
NODES = ["servo_controller", "policy", "jobs", "rest_bridge", "robot_2/servo_controller", "robot_2/policy"]


def register_policy(state: Path, policy_dir: Path) -> str:
    """The policy in a fresh registry in ``state`` (as the jobs node will open it); its model id."""
    from embodied_ai.model_registry.store import ModelKind, ModelRegistry
    from embodied_ai.skills.policy_export import (
        CONTRACT_FILE,
        CONTRACT_FORMAT,
        ONNX_FILE,
        ONNX_POLICY_FORMAT,
        OnnxPolicy,
    )

    folder = state / "reference" / "reach_ppo"
    shutil.copytree(policy_dir, folder)
    policy = OnnxPolicy.load(folder / CONTRACT_FILE)
    registry = ModelRegistry(state / "operations.sqlite", artefact_root=state)
    try:
        model = registry.register("reach_ppo", ModelKind.POLICY, training_config=dict(policy.contract.training),
                                  description="the reference reaching policy (scripts/train_reach_policy.py)",
                                  artefacts={ONNX_POLICY_FORMAT: folder / ONNX_FILE,
                                             CONTRACT_FORMAT: folder / CONTRACT_FILE})
        return model.id
    finally:
        registry.close()


def env_episodes(policy_dir: Path, count: int) -> list[dict[str, Any]]:
    """The same policy on the same seeds in the environment: each episode's start pose, target,
    success and steps."""
    import gymnasium as gym

    from embodied_ai.skills import REACH_ENV_ID
    from embodied_ai.skills.policy_export import CONTRACT_FILE, OnnxPolicy

    policy = OnnxPolicy.load(policy_dir / CONTRACT_FILE)
    env = gym.make(REACH_ENV_ID)
    episodes = []
    for k in range(count):
        observation, _ = env.reset(seed=HELD_OUT_SEED + k)
        reach: Any = env.unwrapped
        start = {joint: reach.servos.snapshot.joints[joint].position for joint in reach.joints}
        target = [float(v) for v in reach.target]
        done, steps, info = False, 0, {}
        while not done:
            observation, _, terminated, truncated, info = env.step(policy.act_one(observation))
            done, steps = terminated or truncated, steps + 1
        episodes.append({"seed": HELD_OUT_SEED + k, "start": start, "target": target,
                         "success": bool(info["is_success"]), "steps": steps})
    return episodes


class GraphRobots:
    """A client node: each robot's joint states, policy_target, move_joints and policy lifecycle."""

    def __init__(self) -> None:
        import rclpy
        from embodied_interfaces.action import MoveJoints
        from geometry_msgs.msg import PointStamped
        from lifecycle_msgs.srv import ChangeState
        from rclpy.action import ActionClient
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState

        from embodied_ros.kit.qos import STATE

        rclpy.init()
        self.node = rclpy.create_node("reach_graph_bench")
        self.joints: dict[str, dict[str, float]] = {}
        self.targets, self.moves, self.lifecycle = {}, {}, {}
        for robot, prefix in ROBOTS.items():
            def remember(msg: Any, robot: str = robot) -> None:
                self.joints[robot] = dict(zip(msg.name, msg.position))
            self.node.create_subscription(JointState, f"{prefix}/joint_states", remember, qos_profile_sensor_data)
            self.targets[robot] = self.node.create_publisher(PointStamped, f"{prefix}/policy_target", STATE)
            self.moves[robot] = ActionClient(self.node, MoveJoints, f"{prefix}/move_joints")
            self.lifecycle[robot] = self.node.create_client(ChangeState, f"{prefix}/policy/change_state")
        self._executor = MultiThreadedExecutor(num_threads=2)
        self._executor.add_node(self.node)
        threading.Thread(target=self._executor.spin, daemon=True).start()
        for robot in ROBOTS:
            if not (self.lifecycle[robot].wait_for_service(30.0) and self.moves[robot].wait_for_server(30.0)):
                raise RuntimeError(f"{robot}'s policy node or servo controller is not in the graph")
        # The servers must also have matched this client's response readers before a first request
        # (Fast DDS drops an answer sent before that: see the bridge's plumbing.Service).
        time.sleep(1.0)

    def transition(self, robot: str, transition: int) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        future = self.lifecycle[robot].call_async(ChangeState.Request(transition=Transition(id=transition)))
        return bool(_wait(future, 30.0).success)

    def move(self, robot: str, positions: dict[str, float]) -> None:
        from embodied_interfaces.action import MoveJoints

        goal = MoveJoints.Goal(joint_names=list(positions), positions=list(positions.values()), duration=0.0)
        for attempt in range(3):   # a goal response lost on a loaded machine: the move is asked again
            try:
                handle = _wait(self.moves[robot].send_goal_async(goal), 10.0)
                result = _wait(handle.get_result_async(), 30.0).result
                break
            except TimeoutError:
                if attempt == 2:
                    raise
        if not result.success:
            raise RuntimeError(f"{robot}: move to the start pose failed: {result.message}")

    def aim(self, robot: str, point: list[float]) -> None:
        from geometry_msgs.msg import PointStamped

        msg = PointStamped()
        msg.header.frame_id = "base_link"
        msg.point.x, msg.point.y, msg.point.z = point
        self.targets[robot].publish(msg)

    def close(self) -> None:
        import rclpy

        self._executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown()


def _wait(future: Any, timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while not future.done():
        if time.monotonic() > deadline:
            raise TimeoutError("no answer")
        time.sleep(0.01)
    return future.result()


def graph_episode(robots: GraphRobots, robot: str, episode: dict[str, Any], reach: Any, episode_s: float
                  ) -> dict[str, Any]:
    from lifecycle_msgs.msg import Transition

    assert robots.transition(robot, Transition.TRANSITION_DEACTIVATE), f"{robot}: deactivate refused"
    robots.aim(robot, episode["target"])
    robots.move(robot, episode["start"])
    time.sleep(0.3)   # the move's last setpoint settles
    target = episode["target"]
    assert robots.transition(robot, Transition.TRANSITION_ACTIVATE), f"{robot}: activate refused"
    started = time.monotonic()
    while time.monotonic() - started < episode_s:
        robots.aim(robot, target)   # a perceived target streams, as perception's would
        positions = robots.joints.get(robot)
        if positions is not None and reach.reached(positions, target):
            return {"success": True, "seconds": round(time.monotonic() - started, 3)}
        time.sleep(0.02)
    return {"success": False, "seconds": round(episode_s, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=25, help="seeded episodes per robot")
    parser.add_argument("--policy", type=Path, default=POLICY_DIR)
    parser.add_argument("--quick", action="store_true", help="2 episodes per robot (a smoke run)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    count = 2 if args.quick else args.episodes
    load_before, started = load(), time.monotonic()
    domain = 100 + os.getpid() % 100
    os.environ.update(dds_settings(domain))
    state = Path(tempfile.mkdtemp(prefix="bench-reach-"))
    model_id = register_policy(state, args.policy)
    baseline = env_episodes(args.policy, 2 * count)   # robot_1 takes the first half, robot_2 the second
    argv_up = [str(EMBODIED), "up", "--robots", "2", *[a for node in NODES for a in ("--only", node)],
               "--set", "rest_bridge.port=0", *[a for node in ("jobs", "policy", "rest_bridge")
                                                  for a in ("--set", f"{node}.state_dir={state}")]]
    graph = Proc("fleet", argv_up, dds_env(domain), state / "graph.log")
    robots: GraphRobots | None = None
    try:
        url = _bridge_url(graph, 180.0)
        import httpx

        from embodied_ai.skills.reaching import ReachEnv

        with httpx.Client(base_url=url, timeout=60) as http:
            deployment = _deploy(http, model_id)
        print(json.dumps(deployment, indent=2))
        if deployment["status"] != "deployed":
            raise RuntimeError(f"the deployment did not succeed: {deployment['status']} {deployment['reason']}")
        reach = ReachEnv()
        episode_s = reach.task_spec.max_episode_steps / reach.task_spec.control_rate_hz
        robots = GraphRobots()
        through_graph = []
        for index, episode in enumerate(baseline):
            robot = "robot_1" if index < count else "robot_2"
            outcome = graph_episode(robots, robot, episode, reach, episode_s)
            through_graph.append({"robot": robot, "seed": episode["seed"], **outcome})
            print(f"{robot} seed {episode['seed']}: graph {'reached' if outcome['success'] else 'missed'} "
                  f"in {outcome['seconds']:.2f} s; environment {'reached' if episode['success'] else 'missed'} "
                  f"in {episode['steps']} steps", flush=True)
    finally:
        if robots is not None:
            robots.close()
        graph.stop()
    graph_rate = sum(e["success"] for e in through_graph) / len(through_graph)
    env_rate = sum(e["success"] for e in baseline) / len(baseline)
    reached = [e["seconds"] for e in through_graph if e["success"]]
    results = {
        "bench": "reach_graph", **git_state(), "load_before": load_before, "load_after": load(),
        "seconds": round(time.monotonic() - started, 1), "episodes": len(through_graph),
        "tolerance_m": 0.02, "episode_s": episode_s,
        "graph_success_rate": graph_rate, "environment_success_rate": env_rate,
        "ratio_graph_to_environment": round(graph_rate / env_rate, 3) if env_rate else None,
        "graph_mean_seconds_to_reach": round(sum(reached) / len(reached), 3) if reached else None,
        "per_robot": {robot: sum(e["success"] for e in through_graph if e["robot"] == robot) / count
                      for robot in ROBOTS},
        "deployment": deployment, "episodes_detail": through_graph}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nreaching within {results['tolerance_m']} m in {episode_s:g} s, {len(through_graph)} seeded episodes:")
    print(f"  through the graph  {graph_rate:.2f}  (robot_1 {results['per_robot']['robot_1']:.2f}, "
          f"robot_2 {results['per_robot']['robot_2']:.2f}; mean {results['graph_mean_seconds_to_reach']} s to reach)")
    print(f"  in the environment {env_rate:.2f}  (baseline, same seeds)")
    print(f"  ratio graph / environment: {results['ratio_graph_to_environment']}")
    print(f"  load {load_before} -> {results['load_after']}; {results['seconds']} s; written to {args.out}")
    return 0


def _bridge_url(graph: Proc, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    pattern = re.compile(r"\[rest_bridge\]: serving on (http://[\d.]+:\d+)")
    while time.monotonic() < deadline:
        found = pattern.findall(graph.log.read_text(errors="replace")) if graph.log.exists() else []
        if found:
            return str(found[-1])
        if not graph.alive():
            raise RuntimeError(f"the graph exited:\n{graph.log_tail(40)}")
        time.sleep(0.5)
    raise RuntimeError(f"no bridge within {timeout_s:.0f} s:\n{graph.log_tail(40)}")


def _deploy(http: Any, model_id: str) -> dict[str, Any]:
    """Seed 001's deploy with replicas 2, strategy rolling (its default success check); the record."""
    deadline = time.monotonic() + 300
    while True:
        accepted = http.post(f"/v1/models/{model_id}/deploy", json={"replicas": 2, "strategy": "rolling"})
        if accepted.status_code == 202:
            break
        # 503 while the bridge discovers the jobs node; 409 while a robot's controller is not yet up.
        if accepted.status_code not in (503, 409) or time.monotonic() > deadline:
            raise RuntimeError(f"deploy refused: {accepted.status_code} {accepted.text}")
        time.sleep(1.0)
    deployment_id = accepted.json()["data"]["deployment"]["id"]
    while http.get(f"/v1/jobs/{deployment_id}").json()["data"]["status"] in ("pending", "queued", "running"):
        if time.monotonic() > deadline:
            raise RuntimeError("the deployment did not end in time")
        time.sleep(0.5)
    return dict(http.get(f"/v1/deployments/{deployment_id}").json()["data"])


if __name__ == "__main__":
    sys.exit(main())
