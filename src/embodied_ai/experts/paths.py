"""Where the experts keep their state (registry, adapters, jobs) and their build cache.

State (what a restart must not lose) lives under one directory: ``$EMBODIED_STATE_DIR`` or
``~/.local/state/embodied``. Built artefacts that can always be rebuilt from the repository
(the ONNX base model) live in a cache: ``$EMBODIED_CACHE_DIR`` or ``~/.cache/embodied``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
# Adapters small enough to track (the defaults), with the scripts that rebuild them.
REPO_EXPERTS_DIR = REPO_ROOT / "models" / "experts"


def state_dir() -> Path:
    configured = os.environ.get("EMBODIED_STATE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".local" / "state" / "embodied"


def cache_dir() -> Path:
    configured = os.environ.get("EMBODIED_CACHE_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "embodied"
