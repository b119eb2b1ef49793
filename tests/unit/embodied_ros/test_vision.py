"""Images, their stamps and compressed frames as ROS messages."""

import numpy as np
import pytest
from rclpy.serialization import serialize_message

from embodied_ai.perception.images import ImageError
from embodied_ros.vision import compressed_image_msg, decode_image, image_from_msg, image_msg, stamp_msg, stamp_ns


def test_a_capture_stamp_survives_the_message():
    assert stamp_ns(stamp_msg(1_700_000_000_123_456_789)) == 1_700_000_000_123_456_789


def test_a_serialised_image_decodes_with_its_stamp():
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    sent = image_msg(image, stamp_msg(5_000_000_001), "head_camera_optical_frame")
    msg, stamp = decode_image(serialize_message(sent))
    assert stamp == 5_000_000_001 and msg.header.frame_id == "head_camera_optical_frame"
    assert np.array_equal(image_from_msg(msg), image)


def test_an_image_of_an_unknown_encoding_is_refused():
    msg = image_msg(np.zeros((4, 6, 3), np.uint8), stamp_msg(0), "x")
    msg.encoding = "yuv422"
    with pytest.raises(ImageError, match="encoding 'yuv422'"):
        image_from_msg(msg)


def test_a_jpeg_is_a_compressed_image_in_the_cameras_frame():
    msg = compressed_image_msg(b"\xff\xd8jpeg", stamp_msg(7), "wrist_camera_optical_frame")
    assert (msg.format, bytes(msg.data), msg.header.frame_id, msg.header.stamp.nanosec) == (
        "jpeg", b"\xff\xd8jpeg", "wrist_camera_optical_frame", 7)
