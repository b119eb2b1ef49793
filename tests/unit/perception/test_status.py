"""A component's diagnostic status: every change is passed on, with whether its level changed."""

import threading

from embodied_ai.diagnostics import Level, Status
from embodied_ai.perception.status import ComponentStatus


def test_each_change_is_passed_on_saying_whether_the_level_changed():
    seen: list[tuple[Status, bool]] = []
    status = ComponentStatus("camera: head_camera", Level.WARN, "starting", "sim", lambda s, c: seen.append((s, c)))
    status.set(Level.WARN, "still starting")
    status.set(Level.OK, "streaming")
    status.set(Level.OK, "streaming again")
    assert [(s.level, s.message, changed) for s, changed in seen] == [
        (Level.WARN, "still starting", False), (Level.OK, "streaming", True), (Level.OK, "streaming again", False)]
    assert seen[-1][0] == Status("camera: head_camera", Level.OK, "streaming again", "sim")


def test_values_are_added_for_diagnostics_without_changing_the_status():
    status = ComponentStatus("perception: detector", Level.OK, "ready", "head_camera_optical_frame")
    assert status.with_values({"processed": "3"}).values == {"processed": "3"}
    assert status.current.values == {}


def test_changes_from_several_threads_each_arrive_once():
    seen: list[bool] = []
    status = ComponentStatus("perception: detector", Level.OK, "ready", on_change=lambda s, c: seen.append(c))
    workers = [threading.Thread(target=lambda: [status.set(Level.OK, "ready") for _ in range(200)]) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(seen) == 800 and not any(seen)
