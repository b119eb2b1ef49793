"""Seed 002's NLP routes through the real app: analyses, summaries, and the 400s that list every problem."""

from __future__ import annotations

from fastapi.testclient import TestClient

from embodied_ai.bridge.ports.inference import GenerateRequest
from embodied_ai.errors import ErrorCode, GraphUnavailable
from tests.unit.bridge.envelope import data, error
from tests.unit.bridge.fake_ports import FakeGraph

REVIEW = "I love this product! It's amazing and works perfectly. Ask Dr. Alan Turing in London on 3 March 2025."
ARTICLE = ("The city council approved a new plan to expand the tram network. Three new tram lines will connect the "
           "suburbs to the city centre. The old bus depot will be turned into a park. Construction of the tram "
           "network starts next spring, and the council expects the tram network to cut car traffic by a fifth.")


def test_analyze_answers_every_analysis_with_the_seed_names(client: TestClient) -> None:
    result = data(client.post("/v1/ai/nlp/analyze", json={"text": REVIEW}))
    assert result["request_id"].startswith("req_") and result["text_length"] == len(REVIEW)
    assert result["detected_language"] == "en" and result["language"]["code"] == "en"
    sentiment = result["sentiment"]
    assert sentiment["label"] == "positive" and 0 < sentiment["polarity"] <= 1 and 0 <= sentiment["subjectivity"] <= 1
    assert {(e["text"], e["label"]) for e in result["entities"]} >= {("Alan Turing", "PERSON"),
                                                                     ("3 March 2025", "DATE")}
    for entity in result["entities"]:
        assert REVIEW[entity["start"]:entity["end"]] == entity["text"]
    assert result["keywords"][0]["relevance"] == 1.0
    assert all(set(k) == {"text", "relevance", "sentiment"} for k in result["keywords"])


def test_analyze_runs_only_what_is_asked(client: TestClient) -> None:
    result = data(client.post("/v1/ai/nlp/analyze", json={"text": "Der Roboter greift den Würfel.",
                                                         "analysis_types": ["language"]}))
    assert result["language"]["code"] == "de" and result["detected_language"] == "de"
    assert result["sentiment"] is None and result["entities"] is None and result["keywords"] is None


def test_a_named_language_is_taken_as_given(client: TestClient) -> None:
    result = data(client.post("/v1/ai/nlp/analyze", json={"text": "ok", "analysis_types": ["sentiment"],
                                                         "language": "fr"}))
    assert result["detected_language"] == "fr" and result["language"] is None


def test_analyze_lists_every_problem_at_once(client: TestClient) -> None:
    body = error(client.post("/v1/ai/nlp/analyze", json={"text": "   ", "analysis_types": ["sentiment", "syntax"],
                                                        "language": "xx", "max_keywords": 0}), 400, 400)
    problems = body["details"]["problems"]
    assert len(problems) == 4 and body["error_code"] == "VALIDATION_ERROR"
    assert "text is only whitespace" in problems and any("syntax" in p for p in problems)


def test_empty_and_oversized_texts_are_refused(client: TestClient) -> None:
    assert error(client.post("/v1/ai/nlp/analyze", json={"text": ""}), 400, 400)["details"]["problems"] == [
        "text is empty"]
    too_long = error(client.post("/v1/ai/nlp/summarize", json={"text": "a" * 100_001}), 400, 400)
    assert too_long["details"]["problems"] == ["text has 100001 characters; at most 100000 are analysed"]


def test_a_megabyte_body_is_refused_before_it_is_read(client: TestClient) -> None:
    error(client.post("/v1/ai/nlp/analyze", json={"text": "a" * 1_000_000}), 413, 413)


def test_an_extractive_summary_keeps_within_the_word_budget(client: TestClient) -> None:
    summary = data(client.post("/v1/ai/nlp/summarize", json={"text": ARTICLE, "max_length": 30, "min_length": 10}))
    assert summary["method"] == "extractive" and summary["model"] == "extractive"
    assert summary["length_unit"] == "words" and summary["original_length"] == len(ARTICLE.split())
    assert 10 <= summary["summary_length"] == len(summary["summary"].split()) <= 30
    assert summary["compression_ratio"] == round(summary["summary_length"] / summary["original_length"], 4)
    assert all(sentence.strip() in ARTICLE for sentence in summary["summary"].split(". "))


def test_min_length_over_max_length_is_400_with_every_problem(client: TestClient, fake: FakeGraph) -> None:
    body = error(client.post("/v1/ai/nlp/summarize", json={"text": "", "max_length": 10, "min_length": 20,
                                                          "method": "expert"}), 400, 400)
    assert body["details"]["problems"] == ["text is empty", "min_length (20) is greater than max_length (10)"]
    assert not fake.calls   # nothing reached the experts


def test_an_expert_summary_goes_through_inference_and_is_cut_to_max_length(client: TestClient,
                                                                           fake: FakeGraph) -> None:
    summary = data(client.post("/v1/ai/nlp/summarize", json={"text": ARTICLE, "max_length": 12, "min_length": 5,
                                                            "method": "expert", "model": "general"}))
    method, request = fake.calls[-1]
    assert method == "generate" and isinstance(request, GenerateRequest)
    assert request.expert == "general" and request.max_tokens == 24 and ARTICLE in request.prompt
    assert summary["model"] == "general" and summary["summary_length"] == 12 and summary["summary"].endswith("…")


def test_an_expert_summary_without_the_experts_node_is_503(client: TestClient, fake: FakeGraph) -> None:
    fake.fail("generate", GraphUnavailable("generate", ErrorCode.EXPERT_NOT_READY, "no experts node"))
    error(client.post("/v1/ai/nlp/summarize", json={"text": ARTICLE, "method": "expert"}), 503, 1001)
