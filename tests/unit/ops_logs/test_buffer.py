"""Lines added from several threads are stored together at the next flush, each once."""

from __future__ import annotations

import threading
from pathlib import Path

from embodied_ai.ops_logs import OpsLogLine, OpsLogStore
from embodied_ai.ops_logs.buffer import LogBuffer


def test_lines_from_several_threads_are_stored_once_at_the_flush(tmp_path: Path) -> None:
    store = OpsLogStore(tmp_path / "operations.sqlite")
    buffer = LogBuffer(store)

    def add(service: str) -> None:
        for i in range(50):
            buffer.add(OpsLogLine.from_ros(1_800_000_000 + i, 20, service, f"{service} {i}"))
    threads = [threading.Thread(target=add, args=(name,)) for name in ("asr", "tts")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 0          # nothing is written until the flush
    assert buffer.flush() == 100 and buffer.flush() == 0
    assert store.count() == 100
    store.close()
