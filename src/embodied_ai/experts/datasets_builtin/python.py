"""Dataset builder of the python expert: questions about the standard library of the running
interpreter, answered from its real signatures and docstrings (available offline).

Modules are split, not rows: every ``HELD_OUT_EVERY``-th module's functions are held out, so
evaluation asks about functions the expert never saw.
"""

from __future__ import annotations

import importlib
import inspect
import json
import random
from pathlib import Path

MODULES = ["os.path", "json", "re", "math", "statistics", "itertools", "functools", "collections", "string",
           "textwrap", "shutil", "random", "bisect", "heapq", "operator", "pathlib", "datetime", "time", "csv",
           "base64", "hashlib", "difflib", "fnmatch", "glob", "zlib", "struct", "copy", "pprint", "urllib.parse",
           "html", "calendar", "secrets", "uuid", "colorsys", "gzip", "tempfile"]
QUESTIONS = ["What does {name} do?", "Explain the Python function {name}.", "How do I use {name} in Python?",
             "What is {name} for?"]
HELD_OUT_EVERY = 4


def _functions(module_name: str) -> list[tuple[str, str, str]]:
    module = importlib.import_module(module_name)
    found = []
    for attribute, value in sorted(vars(module).items()):
        doc = inspect.getdoc(value) if callable(value) else None
        if attribute.startswith("_") or not doc:
            continue
        if getattr(value, "__module__", module_name) not in (module_name, module.__name__):
            continue
        summary = doc.strip().split("\n\n")[0].replace("\n", " ")
        try:
            signature = f"{module_name}.{attribute}{inspect.signature(value)}"
        except (TypeError, ValueError):
            signature = f"{module_name}.{attribute}(...)"
        if 20 <= len(summary) <= 300:
            found.append((f"{module_name}.{attribute}", signature, summary))
    return found


def build_rows(held_out: bool, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for index, module_name in enumerate(MODULES):
        if (index % HELD_OUT_EVERY == HELD_OUT_EVERY - 1) != held_out:
            continue
        for name, signature, summary in _functions(module_name):
            rows.append({"prompt": rng.choice(QUESTIONS).format(name=name),
                         "completion": f"`{signature}`: {summary}"})
    return rows


def write_dataset(out_dir: Path, seed: int = 0) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"train": out_dir / "train.jsonl", "held_out": out_dir / "held_out.jsonl"}
    for split, held_out in (("train", False), ("held_out", True)):
        paths[split].write_text("".join(json.dumps(r) + "\n" for r in build_rows(held_out, seed)))
    return paths
