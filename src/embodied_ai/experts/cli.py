"""`embodied experts ...`: build the base, list experts, generate, train (with a progress bar)."""

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
    experts = commands.add_parser("experts", help="the mixture of experts: build, list, generate, train")
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
    train = sub.add_parser("train", help="train a LoRA for an expert on a dataset (JSONL / TXT / CSV)")
    train.add_argument("expert")
    train.add_argument("dataset", type=Path)
    train.add_argument("--max-steps", type=int, default=200)
    train.add_argument("--learning-rate", type=float, default=6e-4)
    train.add_argument("--batch-size", type=int, default=8)
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
    if args.experts_command == "train":
        from tqdm import tqdm

        from embodied_ai.experts.training import TrainingConfig, TrainingStatus

        config = TrainingConfig(max_steps=args.max_steps, learning_rate=args.learning_rate, batch_size=args.batch_size)
        job = service.start_training(args.expert, args.dataset, config)
        with tqdm(total=args.max_steps, desc=f"training {args.expert}", unit="step") as bar:
            def show(status: TrainingStatus) -> None:
                bar.update(status.current_step - bar.n)
                bar.set_postfix(loss=status.current_loss, eta_s=status.eta_seconds)

            job.on_progress = show
            thread = service._threads[job.request.job_id]
            try:
                while thread.is_alive():
                    thread.join(0.5)
            except KeyboardInterrupt:
                print("\nstopping: saving a checkpoint", file=sys.stderr)
                service.stop_training(job.request.job_id)
        status = job.status
        print(f"{status.status}: step {status.current_step}/{status.total_steps}, loss {status.current_loss}, "
              f"{status.elapsed_seconds:.0f} s; job {job.request.job_id} ({job.directory})")
        service.close()
        return 0 if status.status in ("completed", "stopped") else 1
    return 2
