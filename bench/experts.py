"""Experts: decode speed and time to first token of the ONNX bases (int4 / int8 / fp32) against
transformers eager on the same model (the same fp32 weights decoded from the same GGUF), in the
same run; adapter switch latency; RSS with N experts as adapters against N merged models.

Baseline: transformers `generate` (eager attention, fp32, greedy) on the HF folder decoded
from the GGUF. Ratios are ONNX / transformers.

- tokens/s: greedy decode of `--tokens` new tokens after a fixed chat prompt, mean of `--runs`.
- TTFT: from handing the prompt over to the first new token.
- Adapter switch: `set_active_adapter` on a fresh generator, and loading an .onnx_adapter.
- RSS: a child process loads the int8 base with LoRA inputs and N adapters; another loads N
  plain int8 models (a merged expert has exactly the base's size and layout, so N merged
  experts cost N loaded copies). Each child reports its RSS after one generation per expert.

Run: .venv/bin/python bench/experts.py [--tokens 64] [--runs 3] [--experts 3]
     [--out bench/results/experts.json] [--llama-cpp-python PYTHON]
It builds the int4 / fp32 bases into the cache first. ``--llama-cpp-python``: an interpreter
with llama-cpp-python (e.g. a throw-away venv) adds llama.cpp on the GGUF itself as a second
baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROMPT = "Explain in a few sentences what a robot arm is and how its joints move."


def onnx_speed(model_dir: Path, tokens: int, runs: int) -> dict[str, float]:
    from embodied_ai.experts.engine import GenerationRequest, InferenceEngine

    engine = InferenceEngine(model_dir)
    engine.generate(GenerationRequest(PROMPT, max_tokens=4))  # warm-up
    results = [engine.generate(GenerationRequest(PROMPT, max_tokens=tokens)) for _ in range(runs)]
    return {"tokens_per_second": sum(r.tokens_per_second for r in results) / runs,
            "ttft_ms": sum(r.time_to_first_token_ms for r in results) / runs,
            "prompt_tokens": results[0].prompt_tokens,
            "generated_tokens": sum(r.completion_tokens for r in results) / runs}


def transformers_speed(hf_dir: Path, tokens: int, runs: int) -> dict[str, float]:
    """The best of one torch thread and all cores: with another process busy, torch's spinning
    threads can run ten times slower on two cores than on one, and a baseline should be fair."""
    by_threads = {threads: _transformers_speed(hf_dir, tokens, runs, threads)
                  for threads in sorted({1, os.cpu_count() or 1})}
    best = max(by_threads.values(), key=lambda r: r["tokens_per_second"])
    return {**best, "by_threads": {str(t): r for t, r in by_threads.items()}}


def _transformers_speed(hf_dir: Path, tokens: int, runs: int, threads: int) -> dict[str, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from embodied_ai.experts.prompts import chat_prompt

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(hf_dir)
    model = AutoModelForCausalLM.from_pretrained(hf_dir, dtype=torch.float32, attn_implementation="eager").eval()
    inputs = tokenizer(chat_prompt(PROMPT), return_tensors="pt", add_special_tokens=False)
    speeds, ttfts = [], []
    with torch.inference_mode():
        model.generate(**inputs, max_new_tokens=4, do_sample=False)  # warm-up
        for _ in range(runs):
            started = time.monotonic()
            first = model.generate(**inputs, max_new_tokens=1, do_sample=False)
            ttft = time.monotonic() - started
            started = time.monotonic()
            out = model.generate(**inputs, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False)
            total = time.monotonic() - started
            generated = out.shape[1] - inputs["input_ids"].shape[1]
            ttfts.append(ttft * 1000)
            speeds.append((generated - 1) / max(1e-9, total - ttft))
            del first
    return {"tokens_per_second": sum(speeds) / runs, "ttft_ms": sum(ttfts) / runs,
            "prompt_tokens": int(inputs["input_ids"].shape[1]), "threads": threads}


def adapter_switch(base_dir: Path, adapter: Path, repeats: int = 200) -> dict[str, float]:
    import onnxruntime_genai as og

    from embodied_ai.experts.engine import _load_model

    model = _load_model(base_dir, [])
    adapters = og.Adapters(model)
    started = time.perf_counter()
    adapters.load(str(adapter), "a")
    load_ms = (time.perf_counter() - started) * 1000
    adapters.load(str(adapter), "b")
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=64)
    generator = og.Generator(model, params)
    samples = []
    for i in range(repeats):
        started = time.perf_counter()
        generator.set_active_adapter(adapters, "a" if i % 2 else "b")
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    started = time.perf_counter()
    og.Generator(model, params)
    new_generator_ms = (time.perf_counter() - started) * 1000
    return {"load_adapter_ms": load_ms, "set_active_adapter_us_p50": samples[len(samples) // 2],
            "set_active_adapter_us_p99": samples[int(len(samples) * 0.99)], "new_generator_ms": new_generator_ms,
            "adapter_bytes": adapter.stat().st_size}


# llama.cpp on the very GGUF the bases are built from (Q4_1), in an interpreter that has
# llama-cpp-python: the project does not depend on it (it compiles from source for minutes).
_LLAMA_CPP_CHILD = r"""
import json, sys, time
from llama_cpp import Llama
gguf, prompt, tokens, runs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
llm = Llama(model_path=gguf, n_ctx=512, n_threads=threads, verbose=False, seed=0)
ids = llm.tokenize(prompt.encode(), add_bos=False, special=True)
def run(n):
    llm.reset()
    started, first, count = time.monotonic(), None, 0
    for _ in llm.generate(ids, top_k=1, top_p=1.0, temp=0.0, reset=True):
        count += 1
        if first is None:
            first = time.monotonic()
        if count >= n:
            break
    return first - started, time.monotonic() - first, count
run(4)
samples = [run(tokens) for _ in range(runs)]
print(json.dumps({"tokens_per_second": sum((c - 1) / d for _, d, c in samples) / runs,
                  "ttft_ms": sum(t for t, _, _ in samples) / runs * 1000, "prompt_tokens": len(ids),
                  "quantization": "Q4_1 (the GGUF)", "threads": threads}))
"""


def llama_cpp_speed(python: str, tokens: int, runs: int) -> dict[str, float]:
    from embodied_ai.experts.base_build import locate_gguf
    from embodied_ai.experts.prompts import chat_prompt

    out = subprocess.run([python, "-c", _LLAMA_CPP_CHILD, str(locate_gguf()), chat_prompt(PROMPT), str(tokens),
                          str(runs), str(os.cpu_count() or 1)], capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


_RSS_CHILD = r"""
import json, sys, psutil
from pathlib import Path
from embodied_ai.experts.engine import GenerationRequest, InferenceEngine
mode, model_dir, adapter, n = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
if mode == "adapters":
    engine = InferenceEngine(model_dir, memory_budget_mb=4096)
    for i in range(n):
        engine.load_adapter(f"e{i}", adapter)
        engine.generate(GenerationRequest("hello", max_tokens=4), f"e{i}")
else:
    engines = [InferenceEngine(model_dir) for _ in range(n)]
    for engine in engines:
        engine.generate(GenerationRequest("hello", max_tokens=4))
print(json.dumps({"rss_mb": psutil.Process().memory_info().rss / 2**20}))
"""


def rss(mode: str, model_dir: Path, adapter: Path, n: int) -> float:
    env = {k: v for k, v in os.environ.items() if k != "_ROS_WHEELS_BOOTSTRAP_COMPLETE"}
    out = subprocess.run([sys.executable, "-c", _RSS_CHILD, mode, str(model_dir), str(adapter), str(n)],
                         capture_output=True, text=True, check=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])["rss_mb"]


def main() -> int:
    from embodied_ai.experts.adapters import write_onnx_adapter
    from embodied_ai.experts.base_build import BaseRecipe, build_base
    from embodied_ai.experts.paths import REPO_EXPERTS_DIR

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--experts", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "experts.json")
    parser.add_argument("--adapter", type=Path, default=REPO_EXPERTS_DIR / "robot_control" / "adapter",
                        help="PEFT adapter folder used for the switch and RSS measurements")
    parser.add_argument("--llama-cpp-python", default="",
                        help="an interpreter with llama-cpp-python installed: also measure llama.cpp on the GGUF")
    args = parser.parse_args()

    bases = {"int8+lora": build_base(BaseRecipe("int8"), progress=print)}
    for precision in ("int4", "int8", "fp32"):
        bases[precision] = build_base(BaseRecipe(precision, with_lora_inputs=False), progress=print)
    adapter = write_onnx_adapter(args.adapter,
                                 Path(tempfile.mkdtemp()) / "robot_control.onnx_adapter",
                                 set(bases["int8+lora"].lora_inputs))
    results: dict[str, object] = {}
    # The baseline runs on the fp32 weights decoded from the GGUF (no ONNX quantisation).
    baseline = transformers_speed(bases["fp32"].train_hf_dir, args.tokens, args.runs)
    results["transformers_eager_fp32"] = baseline
    for name, built in bases.items():
        measured = onnx_speed(built.onnx_dir, args.tokens, args.runs)
        measured["speed_ratio_vs_transformers"] = measured["tokens_per_second"] / baseline["tokens_per_second"]
        measured["ttft_ratio_vs_transformers"] = measured["ttft_ms"] / baseline["ttft_ms"]
        results[f"onnx_{name}"] = measured
    if args.llama_cpp_python:
        measured = llama_cpp_speed(args.llama_cpp_python, args.tokens, args.runs)
        measured["speed_ratio_vs_transformers"] = measured["tokens_per_second"] / baseline["tokens_per_second"]
        measured["ttft_ratio_vs_transformers"] = measured["ttft_ms"] / baseline["ttft_ms"]
        results["llama_cpp_q4_1"] = measured
    results["adapter_switch"] = adapter_switch(bases["int8+lora"].onnx_dir, adapter)
    adapters_rss = rss("adapters", bases["int8+lora"].onnx_dir, adapter, args.experts)
    merged_rss = rss("merged", bases["int8"].onnx_dir, adapter, args.experts)
    results["rss"] = {"experts": args.experts, "adapters_mb": adapters_rss, "merged_models_mb": merged_rss,
                      "ratio_adapters_vs_merged": adapters_rss / merged_rss}
    report = {"benchmark": "experts", "utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                          "load_average": os.getloadavg()},
              "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                    cwd=REPO).stdout.strip(),
              "tokens": args.tokens, "runs": args.runs, "results": results}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'model':<26}{'tok/s':>8}{'TTFT ms':>9}{'x speed':>9}")
    for name, value in results.items():
        if isinstance(value, dict) and "tokens_per_second" in value:
            print(f"{name:<26}{value['tokens_per_second']:>8.1f}{value['ttft_ms']:>9.1f}"
                  f"{value.get('speed_ratio_vs_transformers', 1.0):>9.2f}")
    switch = results["adapter_switch"]
    print(f"adapter switch p50 {switch['set_active_adapter_us_p50']:.1f} us, load {switch['load_adapter_ms']:.1f} ms")
    print(f"RSS with {args.experts} experts: adapters {adapters_rss:.0f} MB vs merged {merged_rss:.0f} MB")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
