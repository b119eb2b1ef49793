"""Stable object ids across frames: IoU matching of detections to tracks.

Each frame's detections are matched to the live tracks of the same class by maximum total
IoU (the Hungarian assignment from scipy); a match above ``min_iou`` keeps the track's id, an
unmatched detection starts a new track only once it has been seen ``confirm_frames`` times in
a row (a single-frame false positive never gets an id), and a track unseen for ``max_missed``
frames is dropped. Objects on a table barely move between frames, so IoU alone is enough;
a motion model (Kalman) would add nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from embodied_ai.perception.detector import Detection


@dataclass
class Track:
    track_id: int
    detection: Detection
    hits: int = 1
    missed: int = 0
    confirmed: bool = False


@dataclass(frozen=True)
class TrackedDetection:
    track_id: int
    detection: Detection


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) x1 y1 x2 y2 boxes."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    intersection = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area_a = (a[:, 2:] - a[:, :2]).prod(axis=1)
    area_b = (b[:, 2:] - b[:, :2]).prod(axis=1)
    return intersection / np.maximum(area_a[:, None] + area_b[None, :] - intersection, 1e-9)


@dataclass
class IouTracker:
    min_iou: float = 0.3
    confirm_frames: int = 2
    max_missed: int = 15
    tracks: list[Track] = field(default_factory=list)
    _next_id: int = 1

    def update(self, detections: Sequence[Detection]) -> list[TrackedDetection]:
        """Fold in one frame; returns this frame's detections that belong to confirmed tracks."""
        matched_tracks, matched_detections = self._match(detections)
        for track_index, detection_index in zip(matched_tracks, matched_detections):
            track = self.tracks[track_index]
            track.detection, track.hits, track.missed = detections[detection_index], track.hits + 1, 0
            track.confirmed = track.confirmed or track.hits >= self.confirm_frames
        seen = set(matched_tracks)
        for index, track in enumerate(self.tracks):
            if index not in seen:
                track.missed += 1
        new = set(range(len(detections))) - set(matched_detections)
        for index in sorted(new):
            self.tracks.append(Track(self._next_id, detections[index], confirmed=self.confirm_frames <= 1))
            self._next_id += 1
        self.tracks = [t for t in self.tracks if t.missed <= self.max_missed]
        return [TrackedDetection(t.track_id, t.detection) for t in self.tracks if t.confirmed and t.missed == 0]

    def _match(self, detections: Sequence[Detection]) -> tuple[list[int], list[int]]:
        if not self.tracks or not detections:
            return [], []
        track_boxes = np.array([t.detection.box for t in self.tracks], dtype=np.float64)
        detection_boxes = np.array([d.box for d in detections], dtype=np.float64)
        overlap = iou_matrix(track_boxes, detection_boxes)
        same_class = np.array([[t.detection.class_id == d.class_id for d in detections] for t in self.tracks])
        overlap = np.where(same_class, overlap, 0.0)
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        keep = overlap[rows, cols] >= self.min_iou
        return rows[keep].tolist(), cols[keep].tolist()
