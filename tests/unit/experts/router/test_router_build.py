"""The scripts that rebuild the committed router gate, run end to end on a tiny configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import onnx

from embodied_ai.experts.router import GateSession
from tests.conftest import REPO

SCRIPTS = REPO / "models" / "router"


def run_script(name: str, *args: str) -> str:
    completed = subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True, text=True,
                               timeout=240, cwd=REPO)
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def read_jsonl(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_dataset_builder_and_training_script_rebuild_a_gate(tmp_path):
    data = tmp_path / "data"
    run_script("build_dataset.py", "--out-dir", str(data), "--train-per-expert", "25", "--heldout-per-expert", "10")
    train, heldout = read_jsonl(data / "train.jsonl"), read_jsonl(data / "heldout.jsonl")
    experts = ["general", "math", "python", "robot_control"]
    assert Counter(r["expert"] for r in train) == {e: 25 for e in experts}
    assert Counter(r["expert"] for r in heldout) == {e: 10 for e in experts}
    train_prompts = {" ".join(r["prompt"].lower().split()) for r in train}
    assert not [r for r in heldout if " ".join(r["prompt"].lower().split()) in train_prompts]

    # The same seed gives the same data (the committed set is reproducible on this Python).
    again = tmp_path / "again"
    run_script("build_dataset.py", "--out-dir", str(again), "--train-per-expert", "25", "--heldout-per-expert", "10")
    assert (again / "train.jsonl").read_bytes() == (data / "train.jsonl").read_bytes()

    out = tmp_path / "gate"
    printed = run_script("train_router.py", "--train", str(data / "train.jsonl"), "--heldout",
                         str(data / "heldout.jsonl"), "--out-dir", str(out), "--epochs", "30")
    assert "held-out accuracy" in printed
    assert onnx.load(str(out / "gate.onnx")).ir_version == 10
    gate = GateSession.from_file(out / "gate.onnx")
    assert gate.experts == experts
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["heldout"]["examples"] == 40
    assert metrics["training"]["examples"] == 100
    # 25 prompts per expert already separate these domains (95 % seen), far above chance (25 %).
    assert metrics["heldout"]["accuracy"] >= 0.75
