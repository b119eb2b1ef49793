"""Detections as the perception node publishes them, read back as the experts node reads them."""

from std_msgs.msg import Header

from embodied_ai.perception.detector import Detection
from embodied_ai.perception.scene import SeenObject
from embodied_ros.vision import detection_msg, detections_msg, seen_objects


def test_detections_round_trip_to_seen_objects():
    header = Header(frame_id="head_camera_optical_frame")
    msg = detections_msg(header, [
        detection_msg(Detection((10.0, 20.0, 50.0, 60.0), 0.9, 2, "can"), header, object_id=3, position=(0.4, 0.1, 0.05)),
        detection_msg(Detection((70.0, 20.0, 90.0, 40.0), 0.6, 0, "cube"), header),
    ])
    assert seen_objects(msg) == [SeenObject("can", 0.9, 3, (0.4, 0.1, 0.05)), SeenObject("cube", 0.6, None, None)]
