"""``client.nlp`` against a bridge served on loopback: an analysis, a summary, and a refused request."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from embodied_ai import Client
from embodied_ai.sdk import ApiError
from tests.unit.bridge.served import served_bridge


@pytest.fixture
def sdk(tmp_path: Path) -> Iterator[Client]:
    with served_bridge(tmp_path) as url, Client(base_url=url, max_retries=0) as client:
        yield client


def test_analyze_summarize_and_a_refusal(sdk: Client) -> None:
    analysis = sdk.nlp.analyze("The new gripper is wonderful.", analysis_types=["sentiment", "language"])
    assert analysis.sentiment is not None and analysis.sentiment.label == "positive"
    assert analysis.language is not None and analysis.language.code == "en" and analysis.keywords is None
    text = "Robots sort parcels. The robots work all night. Parcels leave at dawn."
    summary = sdk.nlp.summarize(text, max_length=6, min_length=2)
    assert summary.summary_length <= 6 and summary.original_length == 12 and summary.method == "extractive"
    with pytest.raises(ApiError) as refused:
        sdk.nlp.summarize(text, max_length=5, min_length=9)
    assert refused.value.status == 400
