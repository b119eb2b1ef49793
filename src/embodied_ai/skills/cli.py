"""`embodied rl ...`: robot skills through the REST bridge (seed 001's training API, the SDK): train a
policy and follow it with a progress bar, read a task, reconcile it, cancel it, deploy a policy to
robots of the fleet and follow the rollout."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

import yaml

from embodied_ai.jobs.cli import watch
from embodied_ai.sdk.commands import add_connection_options, run_with_client

if TYPE_CHECKING:
    from embodied_ai.sdk import Client


def add_commands(commands: argparse._SubParsersAction) -> None:
    rl = commands.add_parser("rl", help="robot skills: policies trained in the simulator, through the REST bridge")
    add_connection_options(rl)
    sub = rl.add_subparsers(dest="rl_command", required=True)
    train = sub.add_parser("train", help="train a policy (q_learning, dqn, ppo) and follow it")
    train.add_argument("model_type", help="q_learning | dqn | ppo")
    train.add_argument("--name", default="", help="default: the model type")
    train.add_argument("--episodes", type=int, required=True, help="total_episodes")
    train.add_argument("--env", help="embodied/Reach-v0 | embodied/HeadTrack-v0 (default: by model type)")
    train.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                       help="a training parameter (docs/skills.md), e.g. learning_rate=0.1; repeatable")
    train.add_argument("--env-config", action="append", default=[], metavar="NAME=VALUE",
                       help="an environment setting, e.g. max_episode_steps=20; repeatable")
    train.add_argument("--seed", type=int)
    train.add_argument("--detach", action="store_true", help="print the task and return at once")
    show = sub.add_parser("show", help="a task's status and episode metrics as JSON")
    show.add_argument("task_id")
    reconcile = sub.add_parser("reconcile", help="measure a trained policy on fresh, perturbed episodes")
    reconcile.add_argument("task_id")
    reconcile.add_argument("--sample-size", type=int, required=True)
    reconcile.add_argument("--group-id")
    cancel = sub.add_parser("cancel", help="cancel a task (its last checkpoint is kept)")
    cancel.add_argument("task_id")
    deploy = sub.add_parser("deploy", help="deploy a policy to robots of the fleet (rolling) and follow it")
    deploy.add_argument("model", help="the policy: id, name:N or a name (its newest version)")
    deploy.add_argument("--replicas", type=int, default=1, help="robots that run it")
    deploy.add_argument("--strategy", default="rolling", help="rolling | all_at_once")
    deploy.add_argument("--robot", action="append", dest="robots", metavar="ID", help="a robot id; repeatable")
    deploy.add_argument("--max-unavailable", type=int)
    deploy.add_argument("--failure-threshold", type=int)
    deploy.add_argument("--check", action="append", default=[], metavar="NAME=VALUE",
                        help="the success check: trials=2, min_success_rate=0.5, timeout_s=...; repeatable")
    deploy.add_argument("--detach", action="store_true", help="print the deployment and return at once")
    undeploy = sub.add_parser("undeploy", help="stop a policy on the robots that run it")
    undeploy.add_argument("model")
    undeploy.add_argument("--robot", action="append", dest="robots", metavar="ID", help="a robot id; repeatable")
    rl.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_with_client(args, _COMMANDS[args.rl_command], f"rl {args.rl_command}")


def settings(pairs: list[str], option: str) -> dict[str, Any]:
    """NAME=VALUE pairs, each value read as YAML (numbers, booleans, lists); ValueError naming a bad one."""
    values: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"{option} {pair!r} is not NAME=VALUE")
        values[name.strip()] = yaml.safe_load(text)
    return values


def _train(client: Client, args: argparse.Namespace) -> int:
    options: dict[str, Any] = {"env_config": settings(args.env_config, "--env-config") or None, "env": args.env,
                               "seed": args.seed}
    created = client.training.create(args.name or args.model_type, args.model_type, args.episodes,
                                     settings(args.param, "--param"),
                                     **{k: v for k, v in options.items() if v is not None})
    print(f"task {created.task_id} ({args.model_type}) {created.status}")
    return 0 if args.detach else watch(client, int(created.task_id))


def _show(client: Client, args: argparse.Namespace) -> int:
    print(json.dumps(client.training.get(args.task_id).model_dump(), indent=2))
    return 0


def _reconcile(client: Client, args: argparse.Namespace) -> int:
    print(json.dumps(client.training.reconcile(args.task_id, args.sample_size, args.group_id).model_dump(), indent=2))
    return 0


def _cancel(client: Client, args: argparse.Namespace) -> int:
    cancelled = client.training.cancel(args.task_id)
    print(f"task {cancelled.task_id}: {cancelled.status}")
    return 0


def _deploy(client: Client, args: argparse.Namespace) -> int:
    options = {"robots": args.robots, "max_unavailable": args.max_unavailable,
               "failure_threshold": args.failure_threshold, "check": settings(args.check, "--check") or None}
    accepted = client.models.deploy(args.model, args.replicas, args.strategy,
                                    **{k: v for k, v in options.items() if v is not None})
    print(f"deployment {accepted.deployment.id} of {accepted.model_id}: {accepted.status}")
    if args.detach:
        return 0
    watch(client, accepted.job_id)
    record = client.models.deployment(accepted.deployment.id)
    for robot in record.robots:
        print(f"  {robot.robot:<10} {robot.status:<12} reached {robot.reached}/{robot.trials}"
              f"{'  ' + robot.reason if robot.reason else ''}")
    print(f"deployment {record.deployment_id}: {record.status}{' (' + record.reason + ')' if record.reason else ''}")
    return 0 if record.status in ("deployed", "degraded") else 1


def _undeploy(client: Client, args: argparse.Namespace) -> int:
    undeployed = client.models.undeploy(args.model, args.robots)
    print(f"{undeployed.name} undeployed from {', '.join(r.robot for r in undeployed.robots)}")
    return 0


_COMMANDS = {"train": _train, "show": _show, "reconcile": _reconcile, "cancel": _cancel, "deploy": _deploy,
             "undeploy": _undeploy}
