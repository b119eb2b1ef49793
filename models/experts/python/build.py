"""Rebuild the python expert: questions about the running interpreter's standard library,
answered from its real signatures and docstrings → LoRA on the int8 base's own weights →
adapter (float16 PEFT, committed) → measured on held-out *modules* (functions never seen in
training) → metrics.json (numbers in card.md).

    .venv/bin/python models/experts/python/build.py                      # the committed adapter
    .venv/bin/python models/experts/python/build.py --tiny --out /tmp/p  # the test's configuration

Measures: perplexity of the held-out answers with and without the adapter (torch, on the same
decoded int8 weights the adapter was trained on), and through ONNX Runtime GenAI how often the
greedy answer gives the function's exact signature and the answer format; a few generated
answers are kept for the card. Shared steps: embodied_ai.experts.expert_build.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from embodied_ai.experts.datasets_builtin.python import write_dataset
from embodied_ai.experts.engine import GenerationRequest, InferenceEngine
from embodied_ai.experts.evaluation import completion_perplexity, read_rows
from embodied_ai.experts.expert_build import BuildFailed, adapter_engine, build_adapter, parse_build_args, write_metrics
from embodied_ai.experts.training import TrainingConfig

HERE = Path(__file__).resolve().parent
# The committed adapter's recipe (measured run in card.md).
FULL = {"train_rows": None, "held_out_rows": None, "max_steps": 100, "lora_rank": 16, "lora_alpha": 32,
        "lora_layers": tuple(range(22, 30)), "generated": 40}
TINY = {"train_rows": 24, "held_out_rows": 4, "max_steps": 2, "lora_rank": 8, "lora_alpha": 16,
        "lora_layers": tuple(range(22, 30)), "generated": 2}
MAX_LENGTH = 160  # tokens: a signature plus the docstring's first paragraph


def _signature(text: str) -> str | None:
    """The `...` part the answer format starts with."""
    text = text.strip()
    if not text.startswith("`") or text.find("`", 1) < 0:
        return None
    return text[1:text.find("`", 1)]


def generated_answers(engine: InferenceEngine, expert: str | None, rows: list[dict[str, str]]) -> dict[str, object]:
    signature_exact = formatted = 0
    samples, speeds = [], []
    for row in rows:
        result = engine.generate(GenerationRequest(row["prompt"], max_tokens=96), expert)
        speeds.append(result.tokens_per_second)
        got, expected = _signature(result.text), _signature(row["completion"])
        formatted += got is not None
        signature_exact += got is not None and got == expected
        samples.append({"prompt": row["prompt"], "expected": row["completion"], "got": result.text})
    count = max(1, len(rows))
    return {"examples": len(rows), "signature_exact": round(signature_exact / count, 4),
            "answer_format": round(formatted / count, 4),
            "tokens_per_second": round(sum(speeds) / max(1, len(speeds)), 1), "samples": samples}


def main(argv: list[str] | None = None) -> int:
    args = parse_build_args("python", __doc__, HERE, argv)
    recipe = TINY if args.tiny else FULL
    data = write_dataset(args.work / "data", seed=0)
    for split, limit in (("train", recipe["train_rows"]), ("held_out", recipe["held_out_rows"])):
        if limit is not None:
            rows = read_rows(data[split])[:limit]
            data[split].write_text("".join(json.dumps(r) + "\n" for r in rows))

    config = TrainingConfig(max_steps=recipe["max_steps"], save_steps=50, learning_rate=5e-4, warmup_steps=15,
                            lora_rank=recipe["lora_rank"], lora_alpha=recipe["lora_alpha"],
                            lora_layers=recipe["lora_layers"], max_length=MAX_LENGTH)
    try:
        adapter, training = build_adapter("python", args, data["train"], config)
    except BuildFailed as failed:
        print(failed, file=sys.stderr)
        return 1

    # Perplexity of the held-out answers: the shipped float16 adapter against the bare base.
    with_adapter = completion_perplexity(args.base.train_hf_dir, data["held_out"], adapter, max_length=MAX_LENGTH)
    without = completion_perplexity(args.base.train_hf_dir, data["held_out"], None, max_length=MAX_LENGTH)
    engine = adapter_engine(args.base, adapter, "python", args.work)
    held_out = read_rows(data["held_out"])[:recipe["generated"]]
    generated = generated_answers(engine, "python", held_out)
    generated_base = generated_answers(engine, None, held_out[:10])
    write_metrics(args, {
        "held_out": {"perplexity": with_adapter["perplexity"], "held_out_examples": with_adapter["examples"],
                     "signature_exact": generated["signature_exact"], "answer_format": generated["answer_format"],
                     "generated_examples": generated["examples"], "tokens_per_second": generated["tokens_per_second"]},
        "perplexity": {"adapter": with_adapter, "base_without_adapter": without},
        "base_without_adapter": {k: v for k, v in generated_base.items() if k != "samples"},
        "training": training, "samples": generated["samples"][:8], "base_samples": generated_base["samples"][:3]})
    print(f"python held-out perplexity {with_adapter['perplexity']} (bare base {without['perplexity']}); "
          f"signature exact {generated['signature_exact']:.1%} of {generated['examples']} generated "
          f"(bare base {generated_base['signature_exact']:.1%} of {generated_base['examples']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
