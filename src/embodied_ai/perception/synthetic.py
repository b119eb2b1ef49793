"""Randomised tabletop scenes for training and evaluating the tabletop detector.

Each scene varies what a detector must not depend on (light, colours, backgrounds, table
height and extent, head pose, sensor noise, flat distractors on the table) and keeps what it
must learn: the three shapes of ``embodied_ai.hardware.sim.SHAPES``. Colours are drawn for
every object independently of its shape, so colour never tells the class.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from embodied_ai.hardware.sim import SHAPES, SimObject, SimTable
from embodied_ai.perception.render import (
    CameraIntrinsics,
    FlatDistractor,
    RenderedView,
    SceneStyle,
    TabletopRenderer,
)
from embodied_ai.robot.kinematics import Kinematics

MIN_SPACING_M = 0.085  # centre-to-centre distance between objects on the table


@dataclass(frozen=True)
class SyntheticScene:
    table: SimTable
    objects: list[SimObject]
    positions: dict[str, float]   # joint positions (the head pose)
    style: SceneStyle


def random_colour(rng: np.random.Generator, saturation: tuple[float, float] = (0.35, 1.0),
                  value: tuple[float, float] = (0.3, 1.0)) -> tuple[int, int, int]:
    hsv = np.array([[[rng.uniform(0, 180), rng.uniform(*saturation) * 255, rng.uniform(*value) * 255]]], np.uint8)
    b, g, r = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0]
    return int(b), int(g), int(r)


def random_table(rng: np.random.Generator) -> SimTable:
    half_width = rng.uniform(0.3, 0.5)
    return SimTable(
        top_z_m=rng.uniform(0.26, 0.34),
        x_range_m=(rng.uniform(0.18, 0.26), rng.uniform(0.55, 0.75)),
        y_range_m=(-half_width, half_width),
        colour_bgr=random_colour(rng, (0.0, 0.7), (0.25, 0.95)),
    )


def random_objects(rng: np.random.Generator, table: SimTable, max_objects: int = 6) -> list[SimObject]:
    objects: list[SimObject] = []
    wanted = int(rng.integers(1, max_objects + 1))
    (x0, x1), (y0, y1) = table.x_range_m, table.y_range_m
    for attempt in range(wanted * 20):
        if len(objects) == wanted:
            break
        xy = (rng.uniform(x0 + 0.04, x1 - 0.04), rng.uniform(y0 + 0.04, y1 - 0.04))
        if any(math.dist(xy, o.table_xy or xy) < MIN_SPACING_M for o in objects):
            continue
        shape = SHAPES[int(rng.integers(len(SHAPES)))]
        width = rng.uniform(0.045, 0.075)
        height = (rng.uniform(0.07, 0.13) if shape == "can"
                  else width if shape == "ball" else width * rng.uniform(0.8, 1.3))
        objects.append(SimObject(
            object_id=len(objects) + 1, name=f"{shape}_{attempt}", width_m=width, shape=shape,
            colour_bgr=random_colour(rng), height_m=height, table_xy=xy, yaw=rng.uniform(0, math.pi),
        ))
    return objects


def random_style(rng: np.random.Generator, table: SimTable) -> SceneStyle:
    (x0, x1), (y0, y1) = table.x_range_m, table.y_range_m
    distractors = tuple(
        FlatDistractor(
            kind=str(rng.choice(["disc", "sheet", "stripe"])),
            xy=(rng.uniform(x0, x1), rng.uniform(y0, y1)),
            size_m=(rng.uniform(0.03, 0.16), rng.uniform(0.01, 0.12)),
            yaw=rng.uniform(0, math.pi),
            colour_bgr=random_colour(rng, (0.0, 1.0), (0.2, 1.0)),
        )
        for _ in range(int(rng.integers(0, 5)))
    )
    return SceneStyle(
        wall_top_bgr=random_colour(rng, (0.0, 0.6), (0.3, 1.0)),
        wall_bottom_bgr=random_colour(rng, (0.0, 0.6), (0.2, 0.9)),
        floor_bgr=random_colour(rng, (0.0, 0.6), (0.15, 0.8)),
        light_direction=(rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(0.4, 1.5)),
        ambient=rng.uniform(0.35, 0.7),
        diffuse=rng.uniform(0.25, 0.6),
        channel_gain=tuple(rng.uniform(0.85, 1.15, 3).round(3)),
        table_texture=rng.uniform(0, 12),
        noise_sigma=rng.uniform(0, 6),
        blur_kernel=int(rng.choice([0, 0, 3, 5])),
        wall_texture=rng.uniform(0, 30),
        distractors=distractors,
        texture_seed=int(rng.integers(1000)),
    )


def random_scene(rng: np.random.Generator) -> SyntheticScene:
    table = random_table(rng)
    positions = {"head_pan": rng.uniform(-0.35, 0.35), "head_tilt": rng.uniform(0.5, 0.785)}
    return SyntheticScene(table, random_objects(rng, table), positions, random_style(rng, table))


def render_scene(kinematics: Kinematics, intrinsics: CameraIntrinsics, scene: SyntheticScene, camera_link: str,
                 rng: np.random.Generator) -> RenderedView:
    renderer = TabletopRenderer(kinematics, scene.table, intrinsics)
    return renderer.render(camera_link, scene.positions, scene.objects, scene.style, rng)
