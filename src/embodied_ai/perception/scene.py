"""What the robot sees, in one sentence: the reply to "describe the scene".

Built from the perception node's detections (class, score, tracker id, position on the table
in base_link: x forward, y left, REP-103). The ids are said so that a follow-up such as
"grasp object 3" can name what was described.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

# Within this distance (m) of the robot's mid-plane an object is "in front", not left or right.
SIDE_DEADBAND_M = 0.05


@dataclass(frozen=True)
class SeenObject:
    label: str
    score: float
    object_id: int | None = None
    position: tuple[float, float, float] | None = None  # base_link, metres; None when unknown


def _direction(position: tuple[float, float, float] | None) -> str:
    if position is None:
        return ""
    x, y, _ = position
    side = "on my left" if y > SIDE_DEADBAND_M else "on my right" if y < -SIDE_DEADBAND_M else "in front of me"
    return f" {side}, about {round(math.hypot(x, y) * 100)} cm away"


def _phrase(seen: SeenObject) -> str:
    article = "an" if seen.label[:1].lower() in "aeiou" else "a"
    named = f"{article} {seen.label}" + (f" (object {seen.object_id})" if seen.object_id is not None else "")
    return named + _direction(seen.position)


def _join(parts: Sequence[str], separator: str = ", ") -> str:
    """"a", "a and b", "a, b, and c" (with ``separator`` between three or more)."""
    if len(parts) <= 2:
        return " and ".join(parts)
    return separator.join(parts[:-1]) + separator.rstrip() + " and " + parts[-1]


def describe_scene(objects: Sequence[SeenObject], min_score: float = 0.0) -> str:
    """One sentence naming each object left to right, with its id, side and distance."""
    kept = [o for o in objects if o.score >= min_score]
    if not kept:
        return "I don't see any objects in front of me."
    # Left to right as the robot sees them (largest y first); unknown positions last.
    kept.sort(key=lambda o: -o.position[1] if o.position is not None else math.inf)
    counts = Counter(o.label for o in kept)
    summary = _join([f"{n} {label}{'s' if n > 1 else ''}" for label, n in sorted(counts.items())])
    noun = "object" if len(kept) == 1 else "objects"
    described = _join([_phrase(o) for o in kept], "; ")
    return f"I see {len(kept)} {noun} ({summary}): {described}."
