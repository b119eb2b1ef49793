"""The `embodied` command: `embodied up` starts the robot graph, `embodied doctor` checks the install."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from pathlib import Path

from embodied_ai.launcher.config import load_launch_config
from embodied_ai.launcher.environment import ros_environment
from embodied_ai.launcher.graph import graph_processes
from embodied_ai.launcher.supervisor import Supervisor
from embodied_ai.paths import REPO_ROOT

DEFAULT_CONFIG = REPO_ROOT / "launch" / "robot.yaml"


def _up(args: argparse.Namespace) -> int:
    try:
        config = load_launch_config(args.config, args.set, robots=args.robots)
        with tempfile.TemporaryDirectory(prefix="embodied-run-") as run_dir:
            specs = graph_processes(config, Path(run_dir), set(args.only) if args.only else None)
            env = ros_environment(config.dds)
            print(f"[launcher] ROS_DOMAIN_ID={env['ROS_DOMAIN_ID']} "
                  f"ROS_AUTOMATIC_DISCOVERY_RANGE={env.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '(unset)')} "
                  f"processes: {', '.join(s.name for s in specs)}", flush=True)
            supervisor = Supervisor(specs, env, config.restart)
            with contextlib.ExitStack() as launcher_node:

                def start_launcher_node() -> None:
                    """The launcher's ROS node (the graph's services: start, stop, restart), once all run."""
                    try:
                        from embodied_ros.launcher_node import LauncherRos
                    except ImportError as exc:   # embodied_interfaces not built with ListServices yet
                        print(f"[launcher] no launcher node, services cannot be controlled: {exc}", flush=True)
                        return
                    launcher_node.callback(LauncherRos(supervisor, env).close)

                return supervisor.run(on_started=start_launcher_node)
    except ValueError as exc:
        print(f"embodied up: {exc}", file=sys.stderr)
        return 2


def _doctor(args: argparse.Namespace) -> int:
    from embodied_ai.doctor import run_checks

    return run_checks(Path(args.config))


def _keys(args: argparse.Namespace) -> int:
    from embodied_ai.bridge.keys import TIERS, ApiKeyStore

    store = ApiKeyStore.in_state_dir(Path(args.state_dir) if args.state_dir else None)
    if args.keys_command == "create":
        rate_limit = args.rate_limit if args.rate_limit is not None else TIERS[args.tier]
        try:
            key, secret = store.create(args.name, rate_limit, args.role)
        except ValueError as exc:
            print(f"embodied keys create: {exc}", file=sys.stderr)
            return 2
        print(f"created key {key.id} '{key.name}' (role {key.role}, limit {key.rate_limit or 'none'}) in {store.path}")
        print(secret)  # the only time the secret is shown
        return 0
    if args.keys_command == "revoke":
        if store.revoke(args.id):
            print(f"revoked key {args.id}")
            return 0
        print(f"embodied keys revoke: no active key {args.id}", file=sys.stderr)
        return 1
    for key in store.list():
        state = "active" if key.active else f"revoked {key.revoked_at}"
        print(f"{key.id:>4}  {key.name:<20} {key.hint}…  {key.role:<8} {key.rate_limit or 'unlimited':<12} "
              f"{key.created_at}  {state}")
    return 0


def _users(args: argparse.Namespace) -> int:
    from embodied_ai.bridge.users import UserStore
    from embodied_ai.errors import EmbodiedError, InvalidRequest

    store = UserStore.in_state_dir(Path(args.state_dir) if args.state_dir else None)
    if args.users_command == "create":
        # From standard input, never argv (which `ps` shows): one line, or typed at a hidden prompt.
        if sys.stdin.isatty():
            import getpass

            password = getpass.getpass(f"password for {args.name}: ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        try:
            user = store.create(args.name, password, args.role)
        except EmbodiedError as exc:
            problems = exc.problems if isinstance(exc, InvalidRequest) else []
            print(f"embodied users create: {exc.message}" + "".join(f"\n  {p}" for p in problems), file=sys.stderr)
            return 2
        print(f"created user '{user.username}' (role {user.role.label}) in {store.path}")
        return 0
    if args.users_command == "delete":
        if store.delete(args.name):
            print(f"deleted user '{args.name}' (their refresh tokens are revoked)")
            return 0
        print(f"embodied users delete: no user '{args.name}'", file=sys.stderr)
        return 1
    for user in store.list():
        print(f"{user.username:<24} {user.role.label:<8} {user.created_at}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="embodied", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="start the robot graph (simulated robot by default)")
    up.add_argument("--config", default=str(DEFAULT_CONFIG), help="launch YAML (default: launch/robot.yaml)")
    up.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                    help="override a node parameter, e.g. servo_controller.rate_hz=100")
    up.add_argument("--only", action="append", metavar="NODE", help="start only these nodes")
    up.add_argument("--robots", type=int, metavar="N", help=(
        "simulated robots in the graph (default: the config's fleet.robots, 1); robots 2..N run a servo "
        "controller and a policy node each under /robot_k, for policy deployments"))
    up.set_defaults(func=_up)
    doctor = commands.add_parser("doctor", help="say what is installed or missing")
    doctor.add_argument("--config", default=str(DEFAULT_CONFIG))
    doctor.set_defaults(func=_doctor)
    from embodied_ai.experts.cli import add_commands as add_experts_commands

    add_experts_commands(commands)
    from embodied_ai.jobs.cli import add_commands as add_jobs_commands

    add_jobs_commands(commands)
    from embodied_ai.skills.cli import add_commands as add_rl_commands

    add_rl_commands(commands)
    from embodied_ai.services.cli import add_commands as add_services_commands

    add_services_commands(commands)
    from embodied_ai.distributed.cli import add_commands as add_distributed_commands

    add_distributed_commands(commands)
    keys = commands.add_parser("keys", help="API keys of the REST bridge (stored hashed in the state directory)")
    keys.add_argument("--state-dir", help="default: $EMBODIED_STATE_DIR or ~/.local/state/embodied")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser("create", help="make a key and print it once")
    create.add_argument("--name", required=True)
    create.add_argument("--tier", choices=["free", "pro", "enterprise"], default="pro",
                        help="the Robot API's limits: free 100/hour, pro 1000/hour, enterprise unlimited")
    create.add_argument("--rate-limit", help='instead of a tier, e.g. "10/minute" ("" = unlimited)')
    create.add_argument("--role", choices=["viewer", "operator", "admin"], default="admin",
                        help="what the key may do (docs/robot-api.md, Access control); default admin")
    key_commands.add_parser("list", help="every key, active or revoked (never the secrets)")
    revoke = key_commands.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("id", type=int)
    keys.set_defaults(func=_keys)
    users = commands.add_parser("users", help="users of the REST bridge (passwords hashed with argon2id)")
    users.add_argument("--state-dir", help="default: $EMBODIED_STATE_DIR or ~/.local/state/embodied")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    create_user = user_commands.add_parser("create", help="add a user; the password is read from standard input")
    create_user.add_argument("name")
    create_user.add_argument("--role", choices=["viewer", "operator", "admin"], required=True)
    user_commands.add_parser("list", help="every user and role (never the passwords)")
    delete_user = user_commands.add_parser("delete", help="remove a user and revoke their refresh tokens")
    delete_user.add_argument("name")
    users.set_defaults(func=_users)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
