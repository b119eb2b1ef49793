"""Detections as the perception node publishes them, read back as the servo controller, the
experts node and the REST bridge read them."""

import pytest
from std_msgs.msg import Header

from embodied_ai.perception.detector import Detection
from embodied_ai.perception.scene import SeenObject
from embodied_ros.kit.detections import ReceivedDetection, decode_detections, detection_msg, detections_msg


def test_detections_round_trip():
    header = Header(frame_id="head_camera_optical_frame")
    msg = detections_msg(header, [
        detection_msg(Detection((10.0, 20.0, 50.0, 60.0), 0.9, 2, "can"), header, object_id=3,
                      position=(0.4, 0.1, 0.05)),
        detection_msg(Detection((70.0, 20.0, 90.0, 40.0), 0.6, 0, "cube"), header),
    ])
    decoded = decode_detections(msg)
    assert decoded == [ReceivedDetection("can", pytest.approx(0.9), (10.0, 20.0, 50.0, 60.0), 3, (0.4, 0.1, 0.05)),
                       ReceivedDetection("cube", pytest.approx(0.6), (70.0, 20.0, 90.0, 40.0), None, None)]
    assert [d.seen() for d in decoded] == [SeenObject("can", pytest.approx(0.9), 3, (0.4, 0.1, 0.05)),
                                           SeenObject("cube", pytest.approx(0.6), None, None)]


def test_a_detection_without_a_hypothesis_is_skipped():
    header = Header(frame_id="head_camera_optical_frame")
    empty = detection_msg(Detection((0.0, 0.0, 1.0, 1.0), 0.5, 0, "cube"), header)
    empty.results = []
    assert decode_detections(detections_msg(header, [empty])) == []
