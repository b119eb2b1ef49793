"""Conversions between images (and their stamps) and ROS messages (no logic beyond mapping);
the latest joint state.

cv_bridge is not on PyPI, so images are converted here for the encodings the nodes accept.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

from embodied_ai.perception.images import ImageError
from embodied_ai.perception.intrinsics import CameraIntrinsics

# encoding -> (channels, its pixels as BGR); numpy views, so a process that only passes images
# on (the REST bridge) does not load OpenCV.
ENCODINGS: dict[str, tuple[int, Callable[[np.ndarray], np.ndarray]]] = {
    "bgr8": (3, lambda pixels: pixels),
    "rgb8": (3, lambda pixels: pixels[..., ::-1]),
    "bgra8": (4, lambda pixels: pixels[..., :3]),
    "rgba8": (4, lambda pixels: pixels[..., 2::-1]),
    "mono8": (1, lambda pixels: np.repeat(pixels, 3, axis=2)),
}


def stamp_msg(stamp_ns: int) -> Time:
    """A header stamp from nanoseconds since the epoch (the cameras' capture stamps)."""
    return Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000)


def stamp_ns(stamp: Time) -> int:
    return stamp.sec * 1_000_000_000 + stamp.nanosec


def decode_image(serialised: bytes) -> tuple[Image, int]:
    """A serialised Image (as a raw subscription takes it) and its capture stamp in ns."""
    msg = deserialize_message(serialised, Image)
    return msg, stamp_ns(msg.header.stamp)


def image_msg(image_bgr: np.ndarray, stamp: Time, frame_id: str) -> Image:
    height, width = image_bgr.shape[:2]
    msg = Image(height=height, width=width, encoding="bgr8", is_bigendian=0, step=width * 3)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.data = image_bgr.tobytes()
    return msg


def image_from_msg(msg: Image) -> np.ndarray:
    """A BGR uint8 array from an Image; ImageError for an encoding or size that does not add up."""
    if msg.encoding not in ENCODINGS:
        raise ImageError(f"image encoding '{msg.encoding}' is not supported; use one of {', '.join(ENCODINGS)}")
    channels, conversion = ENCODINGS[msg.encoding]
    if msg.height == 0 or msg.width == 0 or msg.step < msg.width * channels:
        raise ImageError(f"image {msg.width}x{msg.height} with step {msg.step} is malformed for {msg.encoding}")
    if len(msg.data) != msg.step * msg.height:
        raise ImageError(f"image data is {len(msg.data)} bytes; {msg.width}x{msg.height} {msg.encoding} "
                         f"with step {msg.step} needs {msg.step * msg.height}")
    rows = np.frombuffer(msg.data, np.uint8).reshape(msg.height, msg.step)   # a view: no copy of the frame
    pixels = rows[:, : msg.width * channels].reshape(msg.height, msg.width, channels)
    return np.ascontiguousarray(conversion(pixels))


def compressed_image_msg(jpeg: bytes, stamp: Time, frame_id: str) -> CompressedImage:
    msg = CompressedImage(format="jpeg", data=jpeg)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    return msg


def camera_info_msg(intrinsics: CameraIntrinsics, stamp: Time, frame_id: str) -> CameraInfo:
    k = intrinsics
    msg = CameraInfo(width=k.width, height=k.height, distortion_model="plumb_bob", d=[0.0] * 5)
    msg.header.stamp, msg.header.frame_id = stamp, frame_id
    msg.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg
