#!/usr/bin/env python3
"""Build the tabletop-object detector from nothing: render, train, export, quantise, evaluate.

    .venv/bin/python models/tabletop/train.py                 # the shipped model (minutes, CPU)
    .venv/bin/python models/tabletop/train.py --tiny --out /tmp/t   # a smoke run (seconds)

1. Render scenes with the simulated robot's renderer (embodied_ai.perception.render) from
   randomised scenes (embodied_ai.perception.synthetic): lighting, colours, table, head pose,
   backgrounds, flat distractors. Training, calibration and held-out sets use separate seeds.
2. Train a small anchor-free, single-scale (stride 8) detector with torch on the CPU.
3. Export an ONNX graph in the YOLOv8 layout: one output (1, 4 + C, N) with cx, cy, w, h in
   input pixels and per-class sigmoid scores, so the generic YOLO decoder runs it. Saved at
   IR version 10 (ONNX Runtime 1.31 rejects newer IR versions).
4. Quantise to int8 with ONNX Runtime static quantisation (QDQ, per-channel weights) on a
   calibration set of rendered frames.
5. Evaluate fp32 and int8 with the runtime's own detector (letterbox, ONNX Runtime, decoder,
   NMS) by mAP@0.5 (pycocotools) on the held-out rendered set; write manifest.yaml and
   MODEL_CARD.md beside the models.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnx
import torch
import torch.nn.functional as F
import yaml
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from torch import nn

from embodied_ai.hardware.sim import SHAPES
from embodied_ai.perception.detector import Detector
from embodied_ai.perception.evaluation import MapResult, mean_average_precision
from embodied_ai.perception.manifest import file_sha256
from embodied_ai.perception.preprocess import letterbox
from embodied_ai.perception.render import CameraIntrinsics, RenderedView
from embodied_ai.perception.synthetic import random_scene, render_scene
from embodied_ai.robot import load_robot_description
from embodied_ai.robot.kinematics import Kinematics

REPO = Path(__file__).resolve().parents[2]
CLASSES = list(SHAPES)
CAMERA_LINK = "head_camera_optical_frame"
STRIDE = 8
IR_VERSION = 10      # ONNX Runtime 1.31 refuses IR 14 (onnx 1.23's default)
OPSET = 17


@dataclass(frozen=True)
class Config:
    train_images: int = 2400
    val_images: int = 300
    calibration_images: int = 64
    steps: int = 1500
    batch: int = 24
    learning_rate: float = 3e-3
    input_hw: tuple[int, int] = (240, 320)     # half the camera's 640x480: no letterbox padding
    crop_hw: tuple[int, int] = (128, 160)      # training crops (the net is fully convolutional)
    image_wh: tuple[int, int] = (640, 480)     # the head camera's default resolution
    horizontal_fov_deg: float = 90.0
    widths: tuple[int, int, int, int] = (16, 32, 48, 64)
    seed: int = 0
    threads: int = 1      # one thread: on a shared 2-core machine, two threads stall on each other


TINY = Config(train_images=8, val_images=4, calibration_images=2, steps=2, batch=4)
DEPLOY_SCORE_THRESHOLD = 0.35   # what the runtime reports
EVAL_SCORE_THRESHOLD = 0.01   # mAP is threshold-free: score every box down to here (COCO/YOLO practice)


# -- data ----------------------------------------------------------------------------------
def render_views(count: int, seed: int, config: Config) -> list[RenderedView]:
    kinematics = Kinematics(load_robot_description(REPO / "urdf" / "embodied_robot.urdf").urdf)
    intrinsics = CameraIntrinsics.from_fov(*config.image_wh, config.horizontal_fov_deg)
    rng = np.random.default_rng(seed)
    return [render_scene(kinematics, intrinsics, random_scene(rng), CAMERA_LINK, rng) for _ in range(count)]


def to_training_tensors(views: Sequence[RenderedView], input_hw: tuple[int, int]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Letterboxed RGB uint8 images (N, 3, H, W) and per-image targets (M, 5): class, x1, y1, x2, y2."""
    images, targets = [], []
    for view in views:
        boxed, transform = letterbox(view.image, input_hw)
        images.append(torch.from_numpy(cv2.cvtColor(boxed, cv2.COLOR_BGR2RGB)).permute(2, 0, 1))
        rows = [[CLASSES.index(b.shape), b.box[0] * transform.scale_x + transform.pad_x,
                 b.box[1] * transform.scale_y + transform.pad_y, b.box[2] * transform.scale_x + transform.pad_x,
                 b.box[3] * transform.scale_y + transform.pad_y] for b in view.boxes]
        targets.append(torch.tensor(rows, dtype=torch.float32).reshape(-1, 5))
    return torch.stack(images), targets


def training_data(config: Config, cache: Path | None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The training tensors, from ``cache`` when it holds this configuration's, else rendered."""
    key = {"images": config.train_images, "seed": config.seed, "input_hw": config.input_hw,
           "image_wh": config.image_wh, "fov": config.horizontal_fov_deg}
    if cache is not None and cache.is_file():
        saved = torch.load(cache)
        if saved["key"] == key:
            return saved["images"], saved["targets"]
    images, targets = to_training_tensors(render_views(config.train_images, config.seed, config), config.input_hw)
    if cache is not None:
        torch.save({"key": key, "images": images, "targets": targets}, cache)
    return images, targets


def crop(image: torch.Tensor, target: torch.Tensor, crop_hw: tuple[int, int], rng: np.random.Generator,
         min_kept: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """A crop of ``crop_hw``, usually around a random object; boxes cut to the crop, and dropped
    when less than ``min_kept`` of them remains inside it.

    Crops put many more objects per second of CPU through the network than whole frames,
    and a fully convolutional net sees no difference at inference on the whole frame.
    """
    height, width = image.shape[1:]
    crop_h, crop_w = crop_hw
    if len(target) and rng.random() < 0.8:
        x1, y1, x2, y2 = target[int(rng.integers(len(target))), 1:].tolist()
        left = int(np.clip((x1 + x2) / 2 - crop_w / 2 + rng.uniform(-0.35, 0.35) * crop_w, 0, width - crop_w))
        top = int(np.clip((y1 + y2) / 2 - crop_h / 2 + rng.uniform(-0.35, 0.35) * crop_h, 0, height - crop_h))
    else:
        left, top = int(rng.integers(width - crop_w + 1)), int(rng.integers(height - crop_h + 1))
    boxes = target[:, 1:] - torch.tensor([left, top, left, top], dtype=torch.float32)
    clipped = torch.stack([boxes[:, 0].clamp(0, crop_w), boxes[:, 1].clamp(0, crop_h),
                           boxes[:, 2].clamp(0, crop_w), boxes[:, 3].clamp(0, crop_h)], dim=1)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(1)
    kept = (clipped[:, 2:] - clipped[:, :2]).clamp(min=0).prod(1) >= min_kept * area
    cropped_target = torch.cat([target[kept, :1], clipped[kept]], dim=1)
    return image[:, top:top + crop_h, left:left + crop_w], cropped_target


def batches(images: torch.Tensor, targets: list[torch.Tensor], size: int, crop_hw: tuple[int, int],
            rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, list[torch.Tensor]]]:
    """Endless random batches of crops, half of them mirrored left-right (the scene has no handedness)."""
    while True:
        picks = rng.choice(len(images), size=size, replace=len(images) < size)
        batch, batch_targets = [], []
        for index in picks:
            image, target = crop(images[index], targets[index], crop_hw, rng)
            if rng.random() < 0.5:
                image = image.flip(2)
                target[:, [1, 3]] = crop_hw[1] - target[:, [3, 1]]
            batch.append(image)
            batch_targets.append(target)
        yield torch.stack(batch).float() / 255.0, batch_targets


# -- the network ---------------------------------------------------------------------------
class ConvBlock(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> None:
        super().__init__(nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.SiLU(inplace=True))


class TabletopNet(nn.Module):
    """A small backbone down to stride 16, fused back to stride 8, and two 1x1 heads:
    box distances (left, top, right, bottom) and class logits per stride-8 cell."""

    def __init__(self, num_classes: int, widths: tuple[int, int, int, int]) -> None:
        super().__init__()
        c1, c2, c3, c4 = widths
        self.to_stride8 = nn.Sequential(ConvBlock(3, c1, 2), ConvBlock(c1, c2, 2),
                                        ConvBlock(c2, c3, 2), ConvBlock(c3, c3))
        self.to_stride16 = nn.Sequential(ConvBlock(c3, c4, 2), ConvBlock(c4, c4))
        self.fuse = nn.Sequential(ConvBlock(c3 + c4, c3, kernel=1), ConvBlock(c3, c3))
        self.box = nn.Conv2d(c3, 4, 1)
        self.cls = nn.Conv2d(c3, num_classes, 1)
        nn.init.constant_(self.cls.bias, -4.0)   # start from "nothing here": most cells are background

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        fine = self.to_stride8(images)
        coarse = F.interpolate(self.to_stride16(fine), size=fine.shape[2:], mode="nearest")
        features = self.fuse(torch.cat([fine, coarse], dim=1))
        return self.box(features), self.cls(features)


def cell_centres(height: int, width: int) -> torch.Tensor:
    """(N, 2) x, y centres of the stride-8 cells in input pixels, row-major."""
    ys, xs = torch.meshgrid(torch.arange(height // STRIDE), torch.arange(width // STRIDE), indexing="ij")
    return (torch.stack([xs, ys], dim=-1).reshape(-1, 2).float() + 0.5) * STRIDE


def decode_boxes(box_raw: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """(B, 4, h, w) raw distances → (B, N, 4) x1 y1 x2 y2 in input pixels."""
    distances = F.softplus(box_raw).flatten(2).transpose(1, 2) * STRIDE
    return torch.cat([centres - distances[..., :2], centres + distances[..., 2:]], dim=-1)


class YoloV8Export(nn.Module):
    """The trained net plus decoding, with the YOLOv8 output layout (1, 4 + C, N)."""

    def __init__(self, net: TabletopNet, input_hw: tuple[int, int]) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("centres", cell_centres(*input_hw))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        box_raw, cls_raw = self.net(images)
        boxes = decode_boxes(box_raw, self.centres)
        cxcywh = torch.cat([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]], dim=-1)
        return torch.cat([cxcywh.transpose(1, 2), torch.sigmoid(cls_raw.flatten(2))], dim=1)


# -- the loss ------------------------------------------------------------------------------
def generalised_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GIoU of matching rows of two (N, 4) x1 y1 x2 y2 tensors."""
    top_left, bottom_right = torch.max(a[:, :2], b[:, :2]), torch.min(a[:, 2:], b[:, 2:])
    intersection = (bottom_right - top_left).clamp(min=0).prod(dim=1)
    area_a, area_b = (a[:, 2:] - a[:, :2]).prod(dim=1), (b[:, 2:] - b[:, :2]).prod(dim=1)
    union = area_a + area_b - intersection + 1e-7
    hull = (torch.max(a[:, 2:], b[:, 2:]) - torch.min(a[:, :2], b[:, :2])).prod(dim=1) + 1e-7
    iou = intersection / union
    return iou - (hull - union) / hull


def assign(target: torch.Tensor, centres: torch.Tensor, radius_cells: float = 2.5) -> torch.Tensor:
    """For each cell, the index of the object it should predict, or -1 (FCOS centre sampling:
    cells inside the box and near its centre; the smallest box wins a shared cell)."""
    assigned = torch.full((len(centres),), -1, dtype=torch.long)
    if len(target) == 0:
        return assigned
    boxes = target[:, 1:]
    box_centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    inside = ((centres[:, None, :] > boxes[None, :, :2]) & (centres[:, None, :] < boxes[None, :, 2:])).all(-1)
    near = ((centres[:, None, :] - box_centres[None]).abs() < radius_cells * STRIDE).all(-1)
    candidate = inside & near
    # Always the cell holding the centre, however small the box.
    closest = ((centres[:, None, :] - box_centres[None]) ** 2).sum(-1).argmin(0)
    candidate[closest, torch.arange(len(boxes))] = True
    area = (boxes[:, 2:] - boxes[:, :2]).prod(1)
    cost = torch.where(candidate, area[None, :].expand_as(candidate), torch.full_like(candidate, math.inf, dtype=torch.float32))
    best_cost, best = cost.min(1)
    assigned[torch.isfinite(best_cost)] = best[torch.isfinite(best_cost)]
    return assigned


def detection_loss(box_raw: torch.Tensor, cls_raw: torch.Tensor, targets: list[torch.Tensor],
                   centres: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
    boxes = decode_boxes(box_raw, centres)
    logits = cls_raw.flatten(2).transpose(1, 2)       # (B, N, C)
    cls_target = torch.zeros_like(logits)
    box_losses, positives = [], 0
    for i, target in enumerate(targets):
        assigned = assign(target, centres)
        cells = torch.nonzero(assigned >= 0).squeeze(1)
        if len(cells) == 0:
            continue
        matched = target[assigned[cells]]
        giou = generalised_iou(boxes[i, cells], matched[:, 1:])
        box_losses.append(1.0 - giou)
        # The class target is the box's IoU: scores then rank boxes by how well they fit.
        cls_target[i, cells, matched[:, 0].long()] = giou.detach().clamp(min=0.05)
        positives += len(cells)
    normaliser = max(positives, 1)
    cls_loss = F.binary_cross_entropy_with_logits(logits, cls_target, reduction="sum") / normaliser
    box_loss = torch.cat(box_losses).sum() / normaliser if box_losses else box_raw.sum() * 0
    return cls_loss + 2.5 * box_loss, {"cls": cls_loss.item(), "box": box_loss.item(), "pos": positives}


# -- steps ---------------------------------------------------------------------------------
def train(config: Config, images: torch.Tensor, targets: list[torch.Tensor]) -> TabletopNet:
    torch.manual_seed(config.seed)
    # Channels-last lets oneDNN pick its fast CPU convolution kernels (about 5x here).
    net = TabletopNet(len(CLASSES), config.widths).to(memory_format=torch.channels_last)
    crop_hw = (min(config.crop_hw[0], config.input_hw[0]), min(config.crop_hw[1], config.input_hw[1]))
    optimiser = torch.optim.AdamW(net.parameters(), lr=config.learning_rate, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, config.learning_rate, total_steps=config.steps, pct_start=0.1)
    centres = cell_centres(*crop_hw)
    stream = batches(images, targets, config.batch, crop_hw, np.random.default_rng(config.seed))
    started = time.monotonic()
    net.train()
    for step in range(1, config.steps + 1):
        batch, batch_targets = next(stream)
        box_raw, cls_raw = net(batch.contiguous(memory_format=torch.channels_last))
        loss, parts = detection_loss(box_raw, cls_raw, batch_targets, centres)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 50 == 0 or step == config.steps:
            print(f"step {step}/{config.steps} loss {loss.item():.3f} (cls {parts['cls']:.3f}, box {parts['box']:.3f}) "
                  f"{time.monotonic() - started:.0f} s", flush=True)
    return net.eval()


def export_onnx(net: TabletopNet, config: Config, path: Path) -> None:
    model = YoloV8Export(net, config.input_hw).eval()
    dummy = torch.zeros(1, 3, *config.input_hw)
    torch.onnx.export(model, (dummy,), str(path), input_names=["images"], output_names=["output0"],
                      opset_version=OPSET, dynamo=False)
    graph = onnx.load(str(path))
    graph.ir_version = IR_VERSION
    onnx.checker.check_model(graph)
    onnx.save(graph, str(path))


class RenderedCalibration(CalibrationDataReader):
    """Feeds the quantiser the exact tensors the runtime feeds the model."""

    def __init__(self, views: Sequence[RenderedView], input_hw: tuple[int, int]) -> None:
        self._tensors = iter([
            cv2.dnn.blobFromImage(letterbox(v.image, input_hw)[0], scalefactor=1 / 255.0, swapRB=True) for v in views
        ])

    def get_next(self) -> dict[str, np.ndarray] | None:
        tensor = next(self._tensors, None)
        return None if tensor is None else {"images": tensor}


def quantise(fp32: Path, int8: Path, calibration: Sequence[RenderedView], config: Config) -> None:
    quantize_static(str(fp32), str(int8), RenderedCalibration(calibration, config.input_hw),
                    quant_format=QuantFormat.QDQ, per_channel=True, op_types_to_quantize=["Conv"],
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    graph = onnx.load(str(int8))
    graph.ir_version = IR_VERSION
    onnx.save(graph, str(int8))


def write_manifest(out: Path, config: Config, metrics: dict[str, float]) -> Path:
    files = {"fp32": "tabletop_fp32.onnx", "int8": "tabletop_int8.onnx"}
    manifest = {
        "name": "tabletop",
        "family": "yolo",
        "layout": "v8",
        "input": {"height": config.input_hw[0], "width": config.input_hw[1], "resize": "letterbox",
                  "colour": "rgb", "scale": 1 / 255.0},
        "classes": CLASSES,
        "thresholds": {"score": DEPLOY_SCORE_THRESHOLD, "nms_iou": 0.5},
        "files": files,
        "sha256": {variant: file_sha256(out / name) for variant, name in files.items()},
        "default_variant": "fp32",
        "licence": "Apache-2.0 (trained by this project on its own rendered scenes)",
        "source": "models/tabletop/train.py (renders the simulator's tabletop, trains with torch, exports, quantises)",
        "metrics": metrics,
    }
    path = out / "manifest.yaml"
    header = "# Written by models/tabletop/train.py; rebuild rather than edit.\n"
    path.write_text(header + yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
    return path


def evaluate(manifest: Path, variant: str, views: Sequence[RenderedView]) -> tuple[MapResult, float]:
    detector = Detector.from_manifest(manifest, variant, providers=["CPUExecutionProvider"],
                                      score_threshold=EVAL_SCORE_THRESHOLD)
    started = time.perf_counter()
    result = mean_average_precision(views, detector.detect, CLASSES)
    return result, (time.perf_counter() - started) / max(len(views), 1) * 1000


def write_model_card(out: Path, config: Config, results: dict[str, tuple[MapResult, float]], timings: dict[str, float],
                     parameters: int) -> None:
    rows = "\n".join(
        f"| {variant} | {(out / f'tabletop_{variant}.onnx').stat().st_size / 1024:.0f} KiB | {r.map50:.3f} | "
        + " | ".join(f"{r.per_class[c]:.3f}" for c in CLASSES) + f" | {ms:.1f} ms |"
        for variant, (r, ms) in results.items())
    held_out = next(iter(results.values()))[0]
    card = f"""# Tabletop-object detector (model card)

Written by `models/tabletop/train.py`; rebuild rather than edit.

- **What it finds**: {', '.join(CLASSES)} standing on a table, in the simulated robot's head camera
  (the shapes `launch/hardware_sim.yaml` can place). Any colour: colour is randomised per object.
- **Architecture**: a small anchor-free CNN (BatchNorm + SiLU convolutions, stride 8 output
  fused with stride 16 context), {parameters:,} parameters. Input {config.input_hw[0]}x{config.input_hw[1]}
  RGB letterboxed, 0-1; output in the YOLOv8 layout (1, {4 + len(CLASSES)}, N): cx, cy, w, h in input
  pixels and per-class sigmoid scores. Decoded by `embodied_ai.perception.decoders.decode_yolo`.
- **Data**: {config.train_images} rendered frames for training (seed {config.seed}), {config.calibration_images} for
  int8 calibration (seed {config.seed + 2}), {held_out.images} held-out frames with {held_out.objects} objects for
  evaluation (seed {config.seed + 1}). Randomised: lighting (direction, ambient, diffuse, colour
  cast), wall/floor/table colours and textures, table height and extent, head pan/tilt,
  object count (1-6), size, yaw and colour, flat distractors on the table, sensor noise, blur.
- **Training**: {config.steps} steps of batch {config.batch} ({config.crop_hw[0]}x{config.crop_hw[1]} crops, mostly around an object), AdamW with a one-cycle schedule from
  {config.learning_rate}, GIoU box loss and IoU-weighted BCE class loss, left-right flips;
  torch {torch.__version__} on {config.threads} CPU threads. Rendering took {timings['render_s']:.0f} s,
  training {timings['train_s']:.0f} s.
- **Int8**: ONNX Runtime static quantisation, QDQ, per-channel int8 weights, uint8
  activations calibrated (min-max) on rendered frames; convolutions only.

## Held-out mAP@0.5 (pycocotools), through the runtime's own pipeline

Every detection down to a score of {EVAL_SCORE_THRESHOLD} is scored, as COCO and YOLO validation do (mAP
is a threshold-free measure); the deployed score threshold is {DEPLOY_SCORE_THRESHOLD} (manifest.yaml).

| variant | size | mAP@0.5 | {' | '.join(CLASSES)} | CPU time per frame (incl. pre/post) |
|---|---|---|{'---|' * len(CLASSES)}---|
{rows}

## Limits
- Trained and evaluated only on rendered frames: it has never seen a real camera image and
  is not expected to work on one. Objects held in a gripper, heavily occluded (< 35 % visible)
  or smaller than ~30 pixels are not labelled in the data.
- Licence: Apache-2.0, like the project; the data is the project's own renderings.
"""
    (out / "MODEL_CARD.md").write_text(card, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--tiny", action="store_true", help="a smoke run: a few images and steps")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--train-images", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--cache", type=Path, help="keep the rendered training tensors in this .pt file and reuse them")
    parser.add_argument("--checkpoint", type=Path, help="also save the trained torch weights here")
    args = parser.parse_args(argv)
    config = TINY if args.tiny else Config()
    overrides = {k: v for k, v in {"steps": args.steps, "train_images": args.train_images, "threads": args.threads}.items()
                 if v is not None}
    config = Config(**{**config.__dict__, **overrides})
    torch.set_num_threads(config.threads)
    args.out.mkdir(parents=True, exist_ok=True)

    started = time.monotonic()
    images, targets = training_data(config, args.cache)
    held_out = render_views(config.val_images, config.seed + 1, config)
    calibration = render_views(config.calibration_images, config.seed + 2, config)
    timings = {"render_s": time.monotonic() - started}
    print(f"rendered {len(images)} + {len(held_out)} + {len(calibration)} frames in {timings['render_s']:.0f} s", flush=True)
    started = time.monotonic()
    net = train(config, images, targets)
    timings["train_s"] = time.monotonic() - started
    if args.checkpoint is not None:
        torch.save({"config": config.__dict__, "state_dict": net.state_dict()}, args.checkpoint)

    fp32, int8 = args.out / "tabletop_fp32.onnx", args.out / "tabletop_int8.onnx"
    export_onnx(net, config, fp32)
    quantise(fp32, int8, calibration, config)
    manifest = write_manifest(args.out, config, {})
    results = {variant: evaluate(manifest, variant, held_out) for variant in ("fp32", "int8")}
    metrics = {f"map50_{variant}": round(r.map50, 4) for variant, (r, _) in results.items()}
    write_manifest(args.out, config, metrics)
    write_model_card(args.out, config, results, timings, sum(p.numel() for p in net.parameters()))
    print(json.dumps({**metrics, **{k: round(v, 1) for k, v in timings.items()}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
