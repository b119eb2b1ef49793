"""Dataset builder of the math expert: generated arithmetic and linear equations with worked
answers. Seeded; prompts use digits or number words (normalised by the commander / engine
callers as for every expert)."""

from __future__ import annotations

import json
import random
from pathlib import Path

OPERATIONS = {"plus": lambda a, b: a + b, "minus": lambda a, b: a - b, "times": lambda a, b: a * b}
SYMBOLS = {"plus": "+", "minus": "-", "times": "*"}
ARITHMETIC = ["what is {a} {op} {b}", "compute {a} {op} {b}", "calculate {a} {sym} {b}", "{a} {sym} {b} = ?"]
EQUATIONS = ["solve {k}x + {c} = {d} for x", "find x if {k}x + {c} = {d}", "what value of x makes {k}x + {c} = {d}"]


def _arithmetic(rng: random.Random) -> dict[str, str]:
    op = rng.choice(list(OPERATIONS))
    a, b = rng.randint(0, 99), rng.randint(0, 99 if op != "times" else 12)
    prompt = rng.choice(ARITHMETIC).format(a=a, b=b, op=op, sym=SYMBOLS[op])
    result = OPERATIONS[op](a, b)
    return {"prompt": prompt, "completion": f"{a} {SYMBOLS[op]} {b} = {result}. The answer is {result}."}


def _equation(rng: random.Random) -> dict[str, str]:
    k, x, c = rng.randint(2, 9), rng.randint(-10, 10), rng.randint(-20, 20)
    d = k * x + c
    prompt = rng.choice(EQUATIONS).format(k=k, c=c, d=d).replace("+ -", "- ")
    step = f"Subtract {c} from both sides" if c >= 0 else f"Add {-c} to both sides"
    return {"prompt": prompt, "completion": f"{step}: {k}x = {d - c}. Divide by {k}: x = {x}. The answer is {x}."}


def build_rows(count: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    while len(rows) < count:
        row = _arithmetic(rng) if rng.random() < 0.6 else _equation(rng)
        if row["prompt"] not in seen:
            seen.add(row["prompt"])
            rows.append(row)
    return rows


def write_dataset(out_dir: Path, train_count: int = 1500, held_out_count: int = 100, seed: int = 0) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = build_rows(train_count + held_out_count, seed)
    paths = {"train": out_dir / "train.jsonl", "held_out": out_dir / "held_out.jsonl"}
    paths["train"].write_text("".join(json.dumps(r) + "\n" for r in rows[:train_count]))
    paths["held_out"].write_text("".join(json.dumps(r) + "\n" for r in rows[train_count:]))
    return paths
