"""`embodied ai ...` and `embodied ops ...`: seed 002's AI services and operations through the REST
bridge (the SDK): classify or read an image, analyse or summarise a text, sign in for a token, see the
system's status and its services, start, stop or restart one."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

from embodied_ai.sdk.commands import Command, add_connection_options, run_with_client

if TYPE_CHECKING:
    from embodied_ai.sdk import Client


def add_commands(commands: argparse._SubParsersAction) -> None:
    ai = commands.add_parser("ai", help="AI services: classify or read an image, analyse or summarise a text")
    add_connection_options(ai)
    sub = ai.add_subparsers(dest="ai_command", required=True)
    classify = sub.add_parser("classify", help="the ImageNet classes of an image file or a camera's frame")
    classify.add_argument("image", nargs="?", help="a PNG or JPEG file (or --camera)")
    classify.add_argument("--camera", help="a camera's latest frame, e.g. head_camera")
    classify.add_argument("--top-k", type=int, default=5)
    read = sub.add_parser("read", help="the text in an image file or a camera's frame (OCR)")
    read.add_argument("image", nargs="?")
    read.add_argument("--camera")
    analyze = sub.add_parser("analyze", help="sentiment, keywords, language and entities of a text ('-': stdin)")
    analyze.add_argument("text")
    summarize = sub.add_parser("summarize", help="an extractive summary of a text ('-': stdin)")
    summarize.add_argument("text")
    summarize.add_argument("--max-length", type=int, default=100, help="words")
    summarize.add_argument("--min-length", type=int, default=30, help="words")
    login = sub.add_parser("login", help="sign in (the password from stdin) and print an access token")
    login.add_argument("username")
    ai.set_defaults(func=lambda args: run_with_client(args, AI_COMMANDS[args.ai_command], f"ai {args.ai_command}"))

    ops = commands.add_parser("ops", help="operations: the system's status, its services, start / stop / restart")
    add_connection_options(ops)
    ops_sub = ops.add_subparsers(dest="ops_command", required=True)
    ops_sub.add_parser("status", help="status, uptime, jobs, resource use and alerts")
    ops_sub.add_parser("services", help="every service (node): process, status, pid, restarts, health")
    for action in ("start", "stop", "restart"):
        control = ops_sub.add_parser(action, help=f"{action} a service (a node, or its whole process)")
        control.add_argument("name")
        control.add_argument("--no-wait", action="store_true", help="answer without waiting for its health")
    ops.set_defaults(func=lambda args: run_with_client(args, OPS_COMMANDS[args.ops_command],
                                                       f"ops {args.ops_command}"))


def _show(value: Any) -> int:
    print(json.dumps(value.model_dump(by_alias=True) if hasattr(value, "model_dump") else value, indent=2))
    return 0


def _image(args: argparse.Namespace) -> dict[str, Any]:
    if (args.image is None) == (args.camera is None):
        raise ValueError("give an image file or --camera, not both or neither")
    return {"camera": args.camera} if args.camera else {"image": args.image}


def _text(value: str) -> str:
    return sys.stdin.read() if value == "-" else value


def _classify(client: Client, args: argparse.Namespace) -> int:
    found = client.vision.classify(top_k=args.top_k, **_image(args))
    for prediction in found.predictions:
        print(f"{prediction.confidence:6.3f}  {prediction.label}")
    return 0


def _read(client: Client, args: argparse.Namespace) -> int:
    found = client.vision.analyze(analysis_type=["text_extraction"], **_image(args))
    for line in found.analysis_results.text or []:
        print(line.text)
    return 0


def _login(client: Client, args: argparse.Namespace) -> int:
    password = getpass.getpass(f"password for {args.username}: ") if sys.stdin.isatty() else \
        sys.stdin.readline().rstrip("\r\n")
    token = client.auth.login(args.username, password)
    print(token.access_token)   # for EMBODIED_API_KEY
    return 0


def _control(action: str) -> Command:
    def command(client: Client, args: argparse.Namespace) -> int:
        done = getattr(client.ops, action)(args.name, wait_for_health=not args.no_wait)
        print(f"{done.service}: {done.action} -> {done.status} ({done.message})")
        return 0
    return command


AI_COMMANDS: dict[str, Command] = {
    "classify": _classify, "read": _read, "login": _login,
    "analyze": lambda client, args: _show(client.nlp.analyze(_text(args.text))),
    "summarize": lambda client, args: _show(client.nlp.summarize(_text(args.text), args.max_length,
                                                                 args.min_length)),
}
OPS_COMMANDS: dict[str, Command] = {
    "status": lambda client, _args: _show(client.ops.status()),
    "services": lambda client, _args: _show([service.model_dump() for service in client.ops.services()]),
    "start": _control("start"), "stop": _control("stop"), "restart": _control("restart"),
}
