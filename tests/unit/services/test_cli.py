"""`embodied ai ...` and `embodied ops ...` against the real bridge app served on loopback (its
vision port runs the real classifier and OCR, as the vision_services node does; no launcher here)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from embodied_ai.bridge.users import UserStore
from embodied_ai.cli import main
from tests.unit.bridge.served import served_bridge
from tests.unit.vision_samples import ensure_classifier_built, sample_photo_path


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    ensure_classifier_built()
    with served_bridge(tmp_path / "state") as base_url:
        yield base_url


def test_ai_commands_classify_read_and_analyse(url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ai", "--url", url, "classify", str(sample_photo_path("skimage", "data/chelsea.png")),
                 "--top-k", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].split()[1] in {"tiger_cat", "tabby", "egyptian_cat"}
    sign = tmp_path / "sign.png"
    picture = Image.new("RGB", (480, 160), "white")
    ImageDraw.Draw(picture).text((30, 40), "EXIT 42", fill="black", font=ImageFont.load_default(size=64))
    picture.save(sign)
    assert main(["ai", "--url", url, "read", str(sign)]) == 0
    assert capsys.readouterr().out.replace(" ", "").strip() == "EXIT42"
    assert main(["ai", "--url", url, "analyze", "I love how gently this robot works."]) == 0
    assert json.loads(capsys.readouterr().out)["sentiment"]["label"] == "positive"


def test_ops_status_and_a_service_without_a_launcher(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ops", "--url", url, "status"]) == 0
    assert json.loads(capsys.readouterr().out)["system_status"] in {"healthy", "degraded", "unhealthy"}
    assert main(["ops", "--url", url, "restart", "perception"]) == 2   # the graph's launcher is not here
    assert "embodied ops restart:" in capsys.readouterr().err


def test_login_prints_a_token_and_bad_input_exits_2(url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ai", "--url", url, "read"]) == 2
    assert "give an image file or --camera" in capsys.readouterr().err
    UserStore.in_state_dir(tmp_path / "state").create("ann", "correct horse battery", "viewer")
    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["ai", "--url", url, "login", "ann"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.count(".") == 2
    assert main(["ops", "--url", url, "--api-key", token, "status"]) == 2   # a viewer may not read ops
    refused = capsys.readouterr().err
    assert "embodied ops status:" in refused and "403" in refused and "viewer" in refused, refused
