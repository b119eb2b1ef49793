"""`embodied jobs ...` against a bridge served on loopback over a real job system: submit a job
from a file and follow it to its end, list, show, cancel; bad input refused with exit status 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai.cli import main
from tests.unit.bridge.served import served_bridge


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with served_bridge(tmp_path / "state") as base_url:
        yield base_url


def test_submit_follows_the_job_to_its_end(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    job_file = tmp_path / "count.yaml"
    job_file.write_text("type: count\nname: three\nparameters: {to: 3}\n")
    assert main(["jobs", "--url", url, "submit", str(job_file)]) == 0
    out = capsys.readouterr()
    assert "job 1 (count)" in out.out and 'completed: {"counted": 3}' in out.out
    assert "counted 3" in out.out and "100%" in out.err          # log lines, then the progress bar
    assert main(["jobs", "--url", url, "list"]) == 0
    assert "completed" in capsys.readouterr().out
    assert main(["jobs", "--url", url, "show", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["result"] == {"counted": 3}
    assert main(["jobs", "--url", url, "cancel", "1"]) == 2     # it has ended: 409
    assert "completed" in capsys.readouterr().err                # the reason: the job's state


def test_bad_input_exits_2_with_the_reason(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "teleport", "parameters": {}}))
    assert main(["jobs", "--url", url, "submit", str(bad)]) == 2
    assert "teleport" in capsys.readouterr().err
    assert main(["jobs", "--url", url, "submit", str(tmp_path / "missing.json")]) == 2
    assert main(["jobs", "--url", url, "show", "4242"]) == 2
