"""The simulated robot's cameras: a tabletop scene drawn with OpenCV from the robot's pose.

The scene is what the simulator knows (``SimTable`` and the ``SimObject`` poses); the camera
pose comes from forward kinematics of the URDF camera frame for the current joint positions,
so the head camera looks where head_pan/head_tilt point it and the wrist camera follows the
right arm. Objects are drawn as shaded polygons (cube faces, can strips, ball discs) from
far to near, with an object-id buffer alongside so every rendered frame also yields the
visible bounding box of each object: the ground truth the tabletop detector trains on.

Simplifications, on purpose: no robot body is drawn, shadows are soft ellipses, and the
only geometry is the table, the floor and the objects.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from embodied_ai.hardware.sim import SimObject, SimTable
from embodied_ai.perception.intrinsics import CameraIntrinsics
from embodied_ai.robot.description import FORCE_SENSOR_FRAMES
from embodied_ai.robot.kinematics import Kinematics

NEAR_PLANE_M = 0.02
TABLE_THICKNESS_M = 0.03
# A rendered object counts as visible (gets a ground-truth box) when at least this fraction
# of it shows and it covers at least this many pixels.
MIN_VISIBLE_FRACTION = 0.35
MIN_VISIBLE_PIXELS = 30


@dataclass(frozen=True)
class FlatDistractor:
    """Something flat lying on the table that is not an object (paper, a coaster, tape)."""

    kind: str                       # "disc", "sheet" or "stripe"
    xy: tuple[float, float]
    size_m: tuple[float, float]
    yaw: float
    colour_bgr: tuple[int, int, int]


@dataclass(frozen=True)
class SceneStyle:
    """Appearance that does not change what is where: light, colours, noise, distractors."""

    wall_top_bgr: tuple[int, int, int] = (205, 200, 195)
    wall_bottom_bgr: tuple[int, int, int] = (170, 165, 160)
    floor_bgr: tuple[int, int, int] = (95, 100, 105)
    light_direction: tuple[float, float, float] = (0.3, 0.4, 1.0)  # towards the light, base_link
    ambient: float = 0.55
    diffuse: float = 0.45
    channel_gain: tuple[float, float, float] = (1.0, 1.0, 1.0)
    table_texture: float = 6.0      # amplitude of the table's grain
    noise_sigma: float = 2.0        # sensor noise, grey levels
    blur_kernel: int = 0            # 0, 3, 5: defocus
    wall_texture: float = 0.0       # amplitude of blotches on the wall
    distractors: tuple[FlatDistractor, ...] = ()
    texture_seed: int = 0


@dataclass(frozen=True)
class ObjectBox:
    """Where an object shows in a rendered frame (pixels, x1 y1 x2 y2, exclusive max)."""

    object_id: int
    name: str
    shape: str
    box: tuple[float, float, float, float]
    visible_fraction: float


@dataclass
class RenderedView:
    image: np.ndarray                       # BGR uint8, height x width x 3
    boxes: list[ObjectBox] = field(default_factory=list)


@dataclass(frozen=True)
class _Camera:
    rotation: np.ndarray    # base_link <- optical frame
    position: np.ndarray    # optical frame origin in base_link
    intrinsics: CameraIntrinsics

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points - self.position) @ self.rotation

    def project(self, camera_points: np.ndarray) -> np.ndarray:
        k = self.intrinsics
        z = camera_points[:, 2]
        return np.stack([k.fx * camera_points[:, 0] / z + k.cx, k.fy * camera_points[:, 1] / z + k.cy], axis=1)


def _clip_near(camera_points: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman clip of a polygon to z >= NEAR_PLANE_M (in front of the camera)."""
    out: list[np.ndarray] = []
    count = len(camera_points)
    for i in range(count):
        current, following = camera_points[i], camera_points[(i + 1) % count]
        current_in, following_in = current[2] >= NEAR_PLANE_M, following[2] >= NEAR_PLANE_M
        if current_in:
            out.append(current)
        if current_in != following_in:
            t = (NEAR_PLANE_M - current[2]) / (following[2] - current[2])
            out.append(current + t * (following - current))
    return np.array(out) if out else np.zeros((0, 3))


@lru_cache(maxsize=64)
def _smooth_noise(seed: int, cells: int, amplitude: float, width: int, height: int) -> np.ndarray:
    """Blotchy texture (grain, stains) as int16 BGR offsets; cached, as styles repeat."""
    coarse = np.random.default_rng(seed).normal(0.0, amplitude, (cells, cells)).astype(np.float32)
    smooth = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.repeat(np.round(smooth).astype(np.int16)[..., None], 3, axis=2)


@lru_cache(maxsize=8)
def _noise_bank(shape: tuple[int, ...], sigma: float, frames: int = 8) -> tuple[np.ndarray, ...]:
    """A few frames of Gaussian sensor noise, drawn once: fresh noise per frame costs more than
    the rest of a render, and cycling eight frames is indistinguishable for a detector."""
    rng = np.random.default_rng(int(sigma * 10))
    return tuple(np.round(rng.normal(0.0, sigma, shape)).astype(np.int16) for _ in range(frames))


def _shade(colour: Sequence[int], normal: np.ndarray, style: SceneStyle) -> tuple[int, int, int]:
    light = np.asarray(style.light_direction, dtype=float)
    light /= np.linalg.norm(light)
    intensity = style.ambient + style.diffuse * max(0.0, float(normal @ light))
    return tuple(int(min(255, c * intensity)) for c in colour)  # type: ignore[return-value]


class TabletopRenderer:
    """Renders the simulator's tabletop from a camera frame of the URDF."""

    def __init__(self, kinematics: Kinematics, table: SimTable, intrinsics: CameraIntrinsics) -> None:
        self.kinematics = kinematics
        self.table = table
        self.intrinsics = intrinsics

    def camera_pose(self, camera_link: str, positions: Mapping[str, float]) -> np.ndarray:
        return self.kinematics.link_pose(camera_link, positions)

    def render(
        self,
        camera_link: str,
        positions: Mapping[str, float],
        objects: Sequence[SimObject],
        style: SceneStyle = SceneStyle(),
        rng: np.random.Generator | None = None,
    ) -> RenderedView:
        """The view from ``camera_link`` with the camera's effects (gain, blur, sensor noise)."""
        return self.camera_effects(self.render_scene(camera_link, positions, objects, style), style, rng)

    def camera_effects(self, scene: RenderedView, style: SceneStyle,
                       rng: np.random.Generator | None) -> RenderedView:
        """``scene`` as the camera sees it; fresh sensor noise for every frame when ``rng`` is given."""
        return RenderedView(self._camera_effects(scene.image, style, rng), list(scene.boxes))

    def render_scene(
        self,
        camera_link: str,
        positions: Mapping[str, float],
        objects: Sequence[SimObject],
        style: SceneStyle = SceneStyle(),
    ) -> RenderedView:
        """The geometry alone (no camera effects): the same for the same joints and objects."""
        pose = self.camera_pose(camera_link, positions)
        camera = _Camera(pose[:3, :3], pose[:3, 3], self.intrinsics)
        k = self.intrinsics
        image = self._background(style)
        self._fill_plane(image, camera, self._floor_corners(), style.floor_bgr)
        # Seen from below its top (a low wrist camera), the table hides what stands on it: draw
        # it last then, over the objects, instead of first.
        table_in_front = camera.position[2] < self.table.top_z_m
        if not table_in_front:
            self._draw_table(image, camera, style)
            for distractor in style.distractors:
                self._draw_distractor(image, camera, distractor)
        placed = [(obj, centre) for obj in objects if (centre := self._object_centre(obj, positions)) is not None]
        if not table_in_front:
            self._draw_shadows(image, camera, [(o, c) for o, c in placed if o.in_gripper is None], style)
        ids = np.zeros((k.height, k.width), dtype=np.int16)
        areas: dict[int, int] = {}
        depth = {id(obj): float(camera.to_camera(centre[None])[0, 2]) for obj, centre in placed}
        for index, (obj, centre) in sorted(enumerate(placed), key=lambda item: -depth[id(item[1][0])]):
            if depth[id(obj)] < NEAR_PLANE_M + obj.width_m:
                continue  # at or behind the lens
            mask = np.zeros((k.height, k.width), dtype=np.uint8)
            self._draw_object(image, mask, camera, obj, centre, style)
            areas[index] = int(np.count_nonzero(mask))
            ids[mask > 0] = index + 1
        if table_in_front:
            table_mask = self._draw_table(image, camera, style)
            ids[table_mask > 0] = 0
        view = RenderedView(image)
        for index, (obj, _) in enumerate(placed):
            box = self._visible_box(ids, index + 1, areas.get(index, 0))
            if box is not None:
                view.boxes.append(ObjectBox(obj.object_id, obj.name, obj.shape, box[0], box[1]))
        return view

    # -- the scene ----------------------------------------------------------------------
    def _object_centre(self, obj: SimObject, positions: Mapping[str, float]) -> np.ndarray | None:
        if obj.in_gripper is not None:
            frame = FORCE_SENSOR_FRAMES.get(f"gripper_{obj.in_gripper}")
            return None if frame is None else self.kinematics.link_position(frame, positions)
        return self.table.object_centre(obj)

    def _floor_corners(self) -> np.ndarray:
        return np.array([[-2.0, -3.0, 0.0], [4.0, -3.0, 0.0], [4.0, 3.0, 0.0], [-2.0, 3.0, 0.0]])

    def _table_corners(self, z: float) -> np.ndarray:
        (x0, x1), (y0, y1) = self.table.x_range_m, self.table.y_range_m
        return np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])

    def _background(self, style: SceneStyle) -> np.ndarray:
        k = self.intrinsics
        ramp = np.linspace(0.0, 1.0, k.height, dtype=np.float32)[:, None, None]
        top, bottom = np.array(style.wall_top_bgr, np.float32), np.array(style.wall_bottom_bgr, np.float32)
        wall = np.broadcast_to(top * (1 - ramp) + bottom * ramp, (k.height, k.width, 3)).copy()
        if style.wall_texture > 0:
            wall += _smooth_noise(style.texture_seed, 8, style.wall_texture, k.width, k.height)
        return np.clip(wall, 0, 255).astype(np.uint8)

    def _polygon_pixels(self, camera: _Camera, world: np.ndarray) -> np.ndarray | None:
        clipped = _clip_near(camera.to_camera(world))
        if len(clipped) < 3:
            return None
        pixels = camera.project(clipped)
        # Far-away clip points can overflow int32 in OpenCV: bound them well outside the image.
        bound = 8 * max(self.intrinsics.width, self.intrinsics.height)
        return np.clip(np.round(pixels), -bound, bound).astype(np.int32)

    def _fill_plane(self, image: np.ndarray, camera: _Camera, corners: np.ndarray,
                    colour: Sequence[int], mask: np.ndarray | None = None) -> None:
        pixels = self._polygon_pixels(camera, corners)
        if pixels is None:
            return
        cv2.fillPoly(image, [pixels], tuple(int(c) for c in colour), lineType=cv2.LINE_AA)
        if mask is not None:
            cv2.fillPoly(mask, [pixels], 255)

    def _draw_table(self, image: np.ndarray, camera: _Camera, style: SceneStyle) -> np.ndarray:
        """Draws the table top and front edge; returns the mask of pixels the table covers."""
        top_z = self.table.top_z_m
        (x0, _), (y0, y1) = self.table.x_range_m, self.table.y_range_m
        edge = np.array([[x0, y0, top_z], [x0, y1, top_z], [x0, y1, top_z - TABLE_THICKNESS_M],
                         [x0, y0, top_z - TABLE_THICKNESS_M]])
        edge_colour = _shade(self.table.colour_bgr, np.array([-1.0, 0.0, 0.0]), style)
        covered = np.zeros(image.shape[:2], dtype=np.uint8)
        self._fill_plane(image, camera, edge, edge_colour, covered)
        top_colour = _shade(self.table.colour_bgr, np.array([0.0, 0.0, 1.0]), style)
        mask = np.zeros(image.shape[:2], dtype=np.uint8)
        self._fill_plane(image, camera, self._table_corners(top_z), top_colour, mask)
        if style.table_texture > 0:
            k = self.intrinsics
            grain = _smooth_noise(style.texture_seed + 1, 24, style.table_texture, k.width, k.height)
            cv2.add(image, grain, dst=image, mask=mask, dtype=cv2.CV_8U)
        return cv2.bitwise_or(covered, mask)

    def _draw_distractor(self, image: np.ndarray, camera: _Camera, item: FlatDistractor) -> None:
        z = self.table.top_z_m + 0.001
        if item.kind == "disc":
            angles = np.linspace(0, 2 * math.pi, 24, endpoint=False)
            local = np.stack([item.size_m[0] / 2 * np.cos(angles), item.size_m[0] / 2 * np.sin(angles)], axis=1)
        else:  # a sheet or a stripe: a rectangle
            w, h = item.size_m
            local = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        c, s = math.cos(item.yaw), math.sin(item.yaw)
        world = np.array([[item.xy[0] + c * x - s * y, item.xy[1] + s * x + c * y, z] for x, y in local])
        self._fill_plane(image, camera, world, item.colour_bgr)

    def _draw_shadows(self, image: np.ndarray, camera: _Camera, placed: Sequence[tuple[SimObject, np.ndarray]],
                      style: SceneStyle) -> None:
        """Soft dark ellipses on the table, pushed away from the light, blended in one pass."""
        light = np.asarray(style.light_direction, dtype=float)
        angles = np.linspace(0, 2 * math.pi, 20, endpoint=False)
        polygons = []
        for obj, centre in placed:
            offset = -light[:2] / max(light[2], 0.3) * obj.height * 0.3
            radius = obj.width_m * 0.65
            ring = np.stack([centre[0] + offset[0] + radius * np.cos(angles),
                             centre[1] + offset[1] + radius * np.sin(angles),
                             np.full_like(angles, self.table.top_z_m + 0.0005)], axis=1)
            pixels = self._polygon_pixels(camera, ring)
            if pixels is not None:
                polygons.append(pixels)
        if not polygons:
            return
        shadow = image.copy()
        cv2.fillPoly(shadow, polygons, (0, 0, 0), lineType=cv2.LINE_AA)
        cv2.addWeighted(shadow, 0.35, image, 0.65, 0, dst=image)

    # -- objects ------------------------------------------------------------------------
    def _draw_object(self, image: np.ndarray, mask: np.ndarray, camera: _Camera, obj: SimObject,
                     centre: np.ndarray, style: SceneStyle) -> None:
        if obj.shape == "ball":
            self._draw_ball(image, mask, camera, obj, centre, style)
        elif obj.shape == "can":
            self._draw_can(image, mask, camera, obj, centre, style)
        else:
            self._draw_cube(image, mask, camera, obj, centre, style)

    def _fill(self, image: np.ndarray, mask: np.ndarray, pixels: np.ndarray, colour: Sequence[int]) -> None:
        cv2.fillPoly(image, [pixels], tuple(int(c) for c in colour), lineType=cv2.LINE_AA)
        cv2.fillPoly(mask, [pixels], 255)

    def _draw_cube(self, image: np.ndarray, mask: np.ndarray, camera: _Camera, obj: SimObject,
                   centre: np.ndarray, style: SceneStyle) -> None:
        half_w, half_h = obj.width_m / 2, obj.height / 2
        c, s = math.cos(obj.yaw), math.sin(obj.yaw)
        rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
        signs = np.array([[x, y, z] for z in (-1, 1) for y in (-1, 1) for x in (-1, 1)], dtype=float)
        corners = centre + (signs * [half_w, half_w, half_h]) @ rotation.T
        faces = {(0, 0, 1): (4, 5, 7, 6), (0, 0, -1): (0, 2, 3, 1), (1, 0, 0): (1, 3, 7, 5),
                 (-1, 0, 0): (0, 4, 6, 2), (0, 1, 0): (2, 6, 7, 3), (0, -1, 0): (0, 1, 5, 4)}
        for local_normal, indices in faces.items():
            normal = rotation @ np.array(local_normal, dtype=float)
            face = corners[list(indices)]
            if normal @ (camera.position - face.mean(axis=0)) <= 0:
                continue  # facing away
            pixels = self._polygon_pixels(camera, face)
            if pixels is not None:
                colour = _shade(obj.colour_bgr, normal, style)
                self._fill(image, mask, pixels, colour)
                # Darker edges, as real cube edges catch less light.
                cv2.polylines(image, [pixels], True, tuple(int(c * 0.7) for c in colour), 1, cv2.LINE_AA)

    def _draw_can(self, image: np.ndarray, mask: np.ndarray, camera: _Camera, obj: SimObject,
                  centre: np.ndarray, style: SceneStyle) -> None:
        radius, half_h = obj.width_m / 2, obj.height / 2
        angles = np.linspace(0, 2 * math.pi, 24, endpoint=False) + obj.yaw
        ring = np.stack([np.cos(angles), np.sin(angles), np.zeros_like(angles)], axis=1)
        bottom = centre + ring * radius - [0.0, 0.0, half_h]
        top = centre + ring * radius + [0.0, 0.0, half_h]
        strips = []
        for i in range(len(angles)):
            j = (i + 1) % len(angles)
            normal = (ring[i] + ring[j]) / np.linalg.norm(ring[i] + ring[j])
            quad = np.array([bottom[i], bottom[j], top[j], top[i]])
            if normal @ (camera.position - quad.mean(axis=0)) > 0:
                strips.append((quad, normal))
        for quad, normal in strips:
            pixels = self._polygon_pixels(camera, quad)
            if pixels is not None:
                self._fill(image, mask, pixels, _shade(obj.colour_bgr, normal, style))
        cap = top if camera.position[2] > top[0, 2] else bottom
        cap_normal = np.array([0.0, 0.0, 1.0 if cap is top else -1.0])
        pixels = self._polygon_pixels(camera, cap)
        if pixels is not None:
            lighter = tuple(min(255, int(c * 1.15)) for c in obj.colour_bgr)
            self._fill(image, mask, pixels, _shade(lighter, cap_normal, style))

    def _draw_ball(self, image: np.ndarray, mask: np.ndarray, camera: _Camera, obj: SimObject,
                   centre: np.ndarray, style: SceneStyle) -> None:
        in_camera = camera.to_camera(centre[None])
        u, v = camera.project(in_camera)[0]
        radius_px = self.intrinsics.fx * (obj.width_m / 2) / float(in_camera[0, 2])
        if not (np.isfinite(u) and np.isfinite(v)) or radius_px < 1:
            return
        light = np.asarray(style.light_direction, dtype=float)
        light_in_camera = camera.rotation.T @ (light / np.linalg.norm(light))
        # Concentric discs drifting towards the light: a cheap diffuse sphere.
        steps = 6
        for step in range(steps):
            fraction = 1.0 - step / steps
            shift = (1.0 - fraction) * 0.45 * radius_px
            cx = u + shift * light_in_camera[0]
            cy = v + shift * light_in_camera[1]
            brightness = style.ambient + style.diffuse * (step + 1) / steps
            colour = tuple(int(min(255, c * brightness)) for c in obj.colour_bgr)
            cv2.circle(image, (int(round(cx * 4)), int(round(cy * 4))), max(1, int(round(radius_px * fraction * 4))),
                       colour, -1, cv2.LINE_AA, shift=2)
        cv2.circle(mask, (int(round(u)), int(round(v))), max(1, int(round(radius_px))), 255, -1)

    # -- camera and labels --------------------------------------------------------------
    def _camera_effects(self, image: np.ndarray, style: SceneStyle, rng: np.random.Generator | None) -> np.ndarray:
        # OpenCV's saturating uint8 arithmetic: a frame costs a few ms instead of tens in float numpy.
        if style.channel_gain != (1.0, 1.0, 1.0):
            image = cv2.multiply(image, np.array([*style.channel_gain, 0.0]), dtype=cv2.CV_8U)
        if style.blur_kernel >= 3:
            image = cv2.GaussianBlur(image, (style.blur_kernel, style.blur_kernel), 0)
        if style.noise_sigma > 0 and rng is not None:
            # Sigma in steps of 2 grey levels keeps the number of cached banks small.
            bank = _noise_bank(image.shape, float(max(2, 2 * round(style.noise_sigma / 2))))
            image = cv2.add(image, bank[int(rng.integers(len(bank)))], dtype=cv2.CV_8U)
        return image

    @staticmethod
    def _visible_box(ids: np.ndarray, label: int,
                     full_area: int) -> tuple[tuple[float, float, float, float], float] | None:
        visible = (ids == label).astype(np.uint8)
        count = int(np.count_nonzero(visible))
        if full_area == 0 or count < MIN_VISIBLE_PIXELS or count / full_area < MIN_VISIBLE_FRACTION:
            return None
        x, y, w, h = cv2.boundingRect(visible)
        return (float(x), float(y), float(x + w), float(y + h)), count / full_area
