"""A whole-image summary for the vision API's ``scene_analysis``: how bright the image is, where
the detected objects are (left, centre or right third), and one sentence naming them.

Only what an image and its detections say for certain: no guess at the setting, the time of
day or the weather (seed 002's example fields), which no model here estimates. The sentence is
``describe_scene``'s, the reply the robot gives to "describe the scene".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from embodied_ai.perception.scene import SeenObject, describe_scene

# Mean luma (0..1) below which an image is "dark", and below which it is "dim".
DARK_BELOW = 0.25
DIM_BELOW = 0.45
REGIONS = ("left", "centre", "right")
Lighting = Literal["dark", "dim", "bright"]


@dataclass(frozen=True)
class BoxedObject:
    label: str
    score: float
    box: tuple[float, float, float, float]   # x1 y1 x2 y2, image pixels
    object_id: int | None = None


@dataclass(frozen=True)
class SceneSummary:
    brightness: float                   # mean luma, 0 (black) .. 1 (white)
    lighting: Lighting
    layout: dict[str, list[str]]        # region -> labels, left to right within each region
    description: str


def brightness(image_rgb: np.ndarray) -> float:
    """Mean Rec. 601 luma of an HxWx3 uint8 RGB image, scaled to 0..1."""
    weights = np.array([0.299, 0.587, 0.114], np.float64)
    return float((image_rgb.reshape(-1, 3).astype(np.float64) @ weights).mean() / 255.0)


def lighting(luma: float) -> Lighting:
    return "dark" if luma < DARK_BELOW else "dim" if luma < DIM_BELOW else "bright"


def region(box: tuple[float, float, float, float], image_width: int) -> str:
    """The third of the image (left, centre, right) the box's centre falls in."""
    centre = (box[0] + box[2]) / 2
    return REGIONS[min(2, max(0, int(3 * centre / image_width)))]


def summarize_scene(image_rgb: np.ndarray, objects: Sequence[BoxedObject]) -> SceneSummary:
    luma = brightness(image_rgb)
    layout: dict[str, list[str]] = {name: [] for name in REGIONS}
    for obj in sorted(objects, key=lambda o: (o.box[0] + o.box[2]) / 2):
        layout[region(obj.box, image_rgb.shape[1])].append(obj.label)
    description = describe_scene([SeenObject(o.label, o.score, o.object_id) for o in objects])
    return SceneSummary(round(luma, 4), lighting(luma), layout, description)
