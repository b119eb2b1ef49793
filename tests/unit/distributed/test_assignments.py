"""Which worker took part in which task and how it ended, on a real SQLite file: a restarted group's rows
end as restarted whatever order its ranks report in; a worker's running tasks and performance."""

from __future__ import annotations

from pathlib import Path

from embodied_ai.distributed.assignments import Assignments, Performance


def test_groups_tasks_and_performance(tmp_path: Path) -> None:
    table = Assignments(tmp_path / "operations.sqlite")
    try:
        table.started(1, "b", rank=1, world_size=2, group=1)    # rank 1 may report before rank 0
        table.started(1, "a", rank=0, world_size=2, group=1)
        assert table.running_on("a") == table.running_on("b") == [1]
        table.lost(1, "b")
        table.started(1, "a", rank=0, world_size=1, group=2)    # the group restarted on what remained
        assert [(a.node_id, a.world_size, a.outcome) for a in table.of_job(1)] == [
            ("b", 2, "lost"), ("a", 2, "restarted"), ("a", 1, None)]
        table.ended(1, "completed")
        table.started(2, "a", rank=0, world_size=1, group=1)
        table.ended(2, "failed")
        table.started(3, "a", rank=0, world_size=1, group=1)
        table.ended(3, "paused")                                 # neither a success nor a failure
        assert table.running_on("a") == []
        a, b = table.performance("a"), table.performance("b")
        assert (a.completed_tasks, a.failed_tasks, a.success_rate) == (1, 1, 0.5) and a.average_time_s is not None
        assert b == Performance(0, 1, None, 0.0)
        assert table.performance("nobody") == Performance(0, 0, None, None)
    finally:
        table.close()
