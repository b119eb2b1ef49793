"""What every bench's results file records besides its figures: the tree it ran on and the load."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def git_state() -> dict[str, Any]:
    """The commit, and uncommitted edits to what the bench runs (the numbers are for that tree, not HEAD's)."""
    try:
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip()
        status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "src", "bench"],
                                capture_output=True, text=True, timeout=5).stdout.splitlines()
        return {"commit": commit, "uncommitted": [line[3:] for line in status if line.strip()]}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "", "uncommitted": []}


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages (a shared machine: say the load with every figure)."""
    return [round(value, 2) for value in os.getloadavg()]
