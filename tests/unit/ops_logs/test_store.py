"""The operations log store on a real SQLite file: filters, cursor paging, pruning, bad queries."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embodied_ai.errors import InvalidRequest
from embodied_ai.ops_logs.models import MAX_MESSAGE_CHARS, OpsLogLine, from_ros_levels
from embodied_ai.ops_logs.store import OpsLogStore, page_body

T0 = 1_704_110_400.0  # 2024-01-01T12:00:00Z


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[OpsLogStore]:
    opened = OpsLogStore(tmp_path / "operations.sqlite", clock=clock)
    yield opened
    opened.close()


def line(ts: float, level: int = 20, name: str = "experts", msg: str = "ok") -> OpsLogLine:
    return OpsLogLine.from_ros(ts, level, name, msg, "node.py", "tick", 7)


def messages(lines: list[dict[str, Any]]) -> list[str]:
    return [item["message"] for item in lines]


def test_a_line_comes_back_as_seed_002_shows_it(store: OpsLogStore) -> None:
    assert store.append([line(T0 + 0.25, 40, "servo_controller.control", "bus fault")]) == 1
    lines, cursor = store.query()
    assert cursor is None
    assert lines == [{
        "timestamp": "2024-01-01T12:00:00.250Z", "level": "ERROR", "service": "servo_controller",
        "message": "bus fault", "trace_id": None,
        "details": {"file": "node.py", "function": "tick", "line": 7, "logger": "servo_controller.control"},
    }]
    assert page_body(lines, cursor, 100) == {
        "logs": lines, "pagination": {"limit": 100, "has_more": False, "next_cursor": None}}


def test_newest_first_and_a_batch_is_stored_in_time_order(store: OpsLogStore) -> None:
    store.append([line(T0 + 2, msg="b"), line(T0 + 1, msg="a")])
    store.append([line(T0 + 3, msg="c")])
    assert messages(store.query()[0]) == ["c", "b", "a"]


def test_filters_combine_service_minimum_level_and_time_window(store: OpsLogStore) -> None:
    names = ["experts", "servo_controller.control", "jobs", "perception"]
    store.append([line(T0 + i, level=10 * (1 + i % 5), name=names[i % 4], msg=str(i)) for i in range(40)])

    lines, _ = store.query(service="experts,servo_controller", level="warn",
                           since="2024-01-01T12:00:10Z", until=T0 + 30, limit=1000)
    expected = [i for i in range(10, 30) if i % 4 in (0, 1) and 10 * (1 + i % 5) >= 30]
    assert messages(lines) == [str(i) for i in reversed(expected)]
    assert {item["level"] for item in lines} <= {"WARN", "ERROR", "FATAL"}

    fatal, _ = store.query(level="FATAL", service=["jobs"])
    assert messages(fatal) == [str(i) for i in reversed(range(40)) if i % 5 == 4 and i % 4 == 2]
    assert store.query(service="nobody")[0] == []
    # since is inclusive, until exclusive.
    assert messages(store.query(since=T0 + 5, until="1704110407")[0]) == ["6", "5"]


def test_paging_visits_each_line_once_while_new_lines_arrive(store: OpsLogStore) -> None:
    store.append([line(T0 + i, msg=f"old {i}") for i in range(250)])
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        lines, cursor = store.query(limit=100, cursor=cursor)
        seen += messages(lines)
        pages += 1
        if cursor is None:
            break
        store.append([line(T0 + 1000 + pages * 10 + k, msg=f"new {pages}.{k}") for k in range(7)])
    assert pages == 3
    assert seen == [f"old {i}" for i in reversed(range(250))]
    # The lines that arrived meanwhile lead the next first page.
    assert messages(store.query(limit=3)[0]) == ["new 2.6", "new 2.5", "new 2.4"]


def test_paging_with_a_filter_and_the_last_page_has_no_cursor(store: OpsLogStore) -> None:
    store.append([line(T0 + i, level=40 if i % 2 else 20, msg=str(i)) for i in range(10)])
    first, cursor = store.query(level="error", limit=3)
    assert messages(first) == ["9", "7", "5"] and cursor is not None
    second, cursor = store.query(level="error", limit="3", cursor=cursor)
    assert messages(second) == ["3", "1"] and cursor is None
    # Exactly a full last page: no cursor to an empty page.
    full, cursor = store.query(level="error", limit=5)
    assert len(full) == 5 and cursor is None


def test_a_cursor_stays_valid_after_reopening(tmp_path: Path, clock: Clock) -> None:
    first = OpsLogStore(tmp_path / "operations.sqlite", clock=clock)
    first.append([line(T0 + i, msg=str(i)) for i in range(5)])
    _, cursor = first.query(limit=2)
    first.close()
    again = OpsLogStore(tmp_path / "operations.sqlite", clock=clock)
    try:
        assert messages(again.query(limit=2, cursor=cursor)[0]) == ["2", "1"]
    finally:
        again.close()


def test_retention_prunes_by_age_at_most_once_a_minute(store: OpsLogStore, clock: Clock) -> None:
    store.append([line(T0, msg="week old")])          # prunes (first append), nothing old yet
    clock.now = T0 + 3 * 24 * 3600
    store.append([line(clock.now, msg="three days")])  # prunes again: over a minute since the last
    clock.now = T0 + 7 * 24 * 3600 + 1
    store.append([line(clock.now, msg="fresh")])       # the first line is now past retention
    assert messages(store.query()[0]) == ["fresh", "three days"]

    clock.now += 30
    store.append([])
    clock.now += 4 * 24 * 3600 - 30 + 1                # "three days" is past retention...
    store.append([line(clock.now, msg="later")])       # ...and a minute has passed: pruned
    assert messages(store.query()[0]) == ["later", "fresh"]
    clock.now += 10 * 24 * 3600
    store.append([])                                   # an empty batch prunes too, when due
    assert store.count() == 0


def test_age_counts_from_arrival_so_sim_time_stamps_survive(store: OpsLogStore) -> None:
    store.append([line(12.5, msg="sim time")])
    assert messages(store.query()[0]) == ["sim time"]
    assert store.query()[0][0]["timestamp"] == "1970-01-01T00:00:12.500Z"


def test_max_rows_keeps_the_newest(tmp_path: Path, clock: Clock) -> None:
    store = OpsLogStore(tmp_path / "operations.sqlite", max_rows=100, clock=clock)
    try:
        store.append([line(T0 + i, msg=str(i)) for i in range(150)])  # pruned in the same transaction
        assert store.count() == 100
        store.append([line(T0 + 200 + i, msg=str(200 + i)) for i in range(30)])
        assert store.count() == 130                                   # not a minute yet
        clock.now += 61
        assert store.append([]) == 0
        lines, _ = store.query(limit=1000)
        assert messages(lines) == [str(i) for i in reversed([*range(80, 150), *range(200, 230)])]
        assert store.count() == 100
        assert store.prune() == 0
    finally:
        store.close()


def test_bad_parameters_are_listed_together(store: OpsLogStore) -> None:
    with pytest.raises(InvalidRequest) as caught:
        store.query(service="experts,,jobs", level="loud", since="2024-01-01T12:00:00", until="soon", limit=0,
                    cursor="bogus")
    problems = caught.value.problems
    assert [problem.split(":")[0] for problem in problems] == ["service", "level", "since", "until", "limit",
                                                               "cursor"]
    assert "needs a timezone" in problems[2]
    with pytest.raises(InvalidRequest) as caught:
        store.query(since=T0 + 10, until=T0, limit=1001)
    assert caught.value.problems == ["since must be before until",
                                     "limit: 1001 is not a whole number from 1 to 1000"]
    for limit in (True, "ten", -5, "1.5"):
        with pytest.raises(InvalidRequest):
            store.query(limit=limit)


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1:]


def test_a_tampered_cursor_is_refused(store: OpsLogStore, tmp_path: Path, clock: Clock) -> None:
    store.append([line(T0 + i) for i in range(5)])
    _, cursor = store.query(limit=2)
    assert cursor is not None and len(cursor) == 22
    # Any edited character, including the unused low bits of the last one.
    tampered = [_flip(cursor, i) for i in range(len(cursor))]
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(cursor[-1])
    tampered.append(cursor[:-1] + "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[last ^ 1])
    # A cursor naming another row, encoded without the key.
    packed = (1).to_bytes(8, "big") + bytes(8)
    tampered.append(base64.urlsafe_b64encode(packed).decode().rstrip("="))
    for bad in [*tampered, cursor + "A", "", "!" * 22]:
        with pytest.raises(InvalidRequest) as caught:
            store.query(cursor=bad)
        assert caught.value.problems == ["cursor: not a cursor this API gave out (use next_cursor as it came)"]
    # Another database's cursors are not this one's.
    other = OpsLogStore(tmp_path / "other.sqlite", clock=clock)
    try:
        other.append([line(T0 + i) for i in range(5)])
        with pytest.raises(InvalidRequest):
            other.query(cursor=cursor)
    finally:
        other.close()


def test_odd_lines_are_kept_not_refused(store: OpsLogStore) -> None:
    huge = "x" * (MAX_MESSAGE_CHARS * 2)
    odd = OpsLogLine(T0, from_ros_levels(30), "experts", "experts", huge, {"value": float("nan"), "obj": object()})
    store.append([odd])
    [stored], _ = store.query()
    assert len(stored["message"]) == MAX_MESSAGE_CHARS and stored["message"].endswith("[truncated]")
    assert stored["details"]["value"] == "nan" and stored["details"]["obj"].startswith("<object")


def test_the_table_shares_the_operations_database(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "operations.sqlite"
    with sqlite3.connect(path) as other:
        other.execute("CREATE TABLE webhooks (id TEXT PRIMARY KEY)")
    store = OpsLogStore(path, clock=clock)
    store.append([line(T0)])
    store.close()
    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"webhooks", "ops_logs", "ops_logs_meta"} <= tables


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        OpsLogStore(tmp_path / "a.sqlite", retention_s=0)
    with pytest.raises(ValueError):
        OpsLogStore(tmp_path / "a.sqlite", max_rows=0)
