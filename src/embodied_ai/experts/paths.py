"""Where the default experts come from; the state and cache directories are the runtime's
(``embodied_ai.paths``)."""

from __future__ import annotations

from embodied_ai.paths import REPO_ROOT, cache_dir, state_dir

# Adapters small enough to track (the defaults), with the scripts that rebuild them.
REPO_EXPERTS_DIR = REPO_ROOT / "models" / "experts"

__all__ = ["REPO_EXPERTS_DIR", "REPO_ROOT", "cache_dir", "state_dir"]
