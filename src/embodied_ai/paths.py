"""Where the runtime keeps what it must not lose, and what it can rebuild.

State (the experts' registry, adapters and training jobs, the bridge's API keys) lives under
one directory: ``$EMBODIED_STATE_DIR`` or ``~/.local/state/embodied``. Built artefacts that can
always be rebuilt from the repository (the ONNX base model) live in a cache:
``$EMBODIED_CACHE_DIR`` or ``~/.cache/embodied``.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_DIR_ENV = "EMBODIED_STATE_DIR"
CACHE_DIR_ENV = "EMBODIED_CACHE_DIR"


def state_dir() -> Path:
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".local" / "state" / "embodied"


def cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "embodied"
