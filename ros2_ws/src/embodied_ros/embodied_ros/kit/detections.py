"""embodied_interfaces/Detection2DArray, written and read in one place.

Shaped like vision_msgs: one Detection2D per object with its box (centre and size, pixels) and
one hypothesis (class, score, and the object's position in base_link when perception could
place it; covariance[0] = -1 when it could not). ``id`` is the tracker's object id, or empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from embodied_interfaces.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
from std_msgs.msg import Header

from embodied_ai.perception.scene import SeenObject

if TYPE_CHECKING:   # the detector's module loads OpenCV and ONNX Runtime: readers need neither
    from embodied_ai.perception.detector import Detection

Box = tuple[float, float, float, float]            # x_min, y_min, x_max, y_max in pixels
Position = tuple[float, float, float]              # metres in base_link


@dataclass(frozen=True)
class ReceivedDetection:
    label: str
    score: float
    box: Box
    object_id: int | None       # the tracker's stable id; None when untracked
    position: Position | None   # None when perception could not place the object

    def seen(self) -> SeenObject:
        return SeenObject(self.label, self.score, self.object_id, self.position)


def detection_msg(detection: Detection, header: Header, object_id: int | None = None,
                  position: Sequence[float] | None = None) -> Detection2D:
    """One detection; ``position`` (base_link) goes in results[0].pose, else covariance[0] = -1."""
    x1, y1, x2, y2 = detection.box
    msg = Detection2D(header=header, id="" if object_id is None else str(object_id))
    msg.bbox.center.position.x, msg.bbox.center.position.y = (x1 + x2) / 2, (y1 + y2) / 2
    msg.bbox.size_x, msg.bbox.size_y = x2 - x1, y2 - y1
    hypothesis = ObjectHypothesisWithPose()
    hypothesis.hypothesis.class_id, hypothesis.hypothesis.score = detection.label, float(detection.score)
    if position is not None:
        point = hypothesis.pose.pose.position
        point.x, point.y, point.z = (float(v) for v in position)
        hypothesis.pose.pose.orientation.w = 1.0
    else:
        hypothesis.pose.covariance[0] = -1.0
    msg.results = [hypothesis]
    return msg


def detections_msg(header: Header, detections: Sequence[Detection2D]) -> Detection2DArray:
    return Detection2DArray(header=header, detections=list(detections))


def decode_detections(msg: Detection2DArray) -> list[ReceivedDetection]:
    """The inverse of detection_msg; detections without a hypothesis are skipped."""
    decoded = []
    for detection in msg.detections:
        if not detection.results:
            continue
        best = detection.results[0]
        point = best.pose.pose.position
        cx, cy = detection.bbox.center.position.x, detection.bbox.center.position.y
        w, h = detection.bbox.size_x, detection.bbox.size_y
        decoded.append(ReceivedDetection(
            label=best.hypothesis.class_id, score=float(best.hypothesis.score),
            box=(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
            object_id=int(detection.id) if detection.id.isdigit() else None,
            position=None if best.pose.covariance[0] < 0 else (point.x, point.y, point.z)))
    return decoded
