"""`embodied experts ...`: build the base, list experts, generate. Training is a job of the jobs node:
`embodied jobs submit JOB.json` with ``{"type": "training", "config": {"expert_id": ..., "dataset_id": ...}}``."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from embodied_ai.errors import EmbodiedError

if TYPE_CHECKING:  # the service loads the engine's libraries: only when a command needs it
    from embodied_ai.experts.service import ExpertService


def add_commands(commands: argparse._SubParsersAction) -> None:
    experts = commands.add_parser("experts", help="the mixture of experts: build, list, generate")
    experts.add_argument("--state-dir", help="default: $EMBODIED_STATE_DIR or ~/.local/state/embodied")
    sub = experts.add_subparsers(dest="experts_command", required=True)
    build = sub.add_parser("build-base", help="convert the GGUF into the shared ONNX base (cached)")
    build.add_argument("--precision", choices=["int8", "int4", "fp32"], default="int8")
    build.add_argument("--plain", action="store_true", help="no LoRA inputs (for benchmarks)")
    sub.add_parser("list", help="the registry's experts")
    generate = sub.add_parser("generate", help="generate with an expert (streams to stdout)")
    generate.add_argument("prompt")
    generate.add_argument("--expert", default="", help='name or id; "" = the router chooses')
    generate.add_argument("--max-tokens", type=int, default=128)
    generate.add_argument("--temperature", type=float, default=0.0)
    experts.set_defaults(func=run)


def _service(args: argparse.Namespace) -> ExpertService:
    from embodied_ai.experts.base_build import build_base
    from embodied_ai.experts.paths import state_dir
    from embodied_ai.experts.router import Router
    from embodied_ai.experts.service import ExpertService

    state = Path(args.state_dir) if args.state_dir else state_dir()
    service = ExpertService(state, build_base(progress=lambda line: print(f"base: {line}", file=sys.stderr)),
                            router=Router.load(state / "router"))
    service.install_defaults()
    return service


def run(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except EmbodiedError as exc:
        print(f"embodied experts: error {exc.code.value}: {exc}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    if args.experts_command == "build-base":
        from embodied_ai.experts.base_build import BaseRecipe, build_base

        started = time.monotonic()
        built = build_base(BaseRecipe(precision=args.precision, with_lora_inputs=not args.plain), progress=print)
        print(f"{built.onnx_dir} ({time.monotonic() - started:.0f} s; built in {built.build_seconds:.0f} s)")
        return 0
    service = _service(args)
    if args.experts_command == "list":
        experts, total = service.registry.list(limit=1000)
        for e in experts:
            print(f"{e.id:>3} {e.name:<14} {e.status:<12} {e.quantization:<4} v{e.current_version} "
                  f"calls {e.total_calls:<5} {json.dumps(e.metrics)}")
        return 0
    if args.experts_command == "generate":
        from embodied_ai.experts.engine import GenerationRequest

        served = service.generate(
            GenerationRequest(args.prompt, max_tokens=args.max_tokens, temperature=args.temperature), args.expert,
            on_text=lambda text, _n: print(text, end="", flush=True))
        r = served.result
        print(f"\n[{served.route.expert} (confidence {served.route.confidence:.2f}), {r.completion_tokens} tokens, "
              f"TTFT {r.time_to_first_token_ms:.0f} ms, {r.tokens_per_second:.1f} tok/s, {r.finish_reason}]",
              file=sys.stderr)
        return 0
    return 2
