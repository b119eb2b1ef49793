"""The router with the committed gate and real MiniLM embeddings (ONNX Runtime, no mocks)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from embodied_ai.errors import ErrorCode
from embodied_ai.experts.datasets import DatasetInvalidError
from embodied_ai.experts.router import (
    COMMITTED_GATE,
    EmptyPromptError,
    Router,
    RouterConfig,
    RouterError,
    SentenceEmbedder,
    UnknownExpertError,
    load_labelled_prompts,
)
from embodied_ai.experts.router.embedding import reference_model_dir
from tests.conftest import REPO

DATA = REPO / "models" / "router" / "data"
DEFAULT_EXPERTS = ["general", "math", "python", "robot_control"]


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder()


@pytest.fixture
def router(tmp_path, embedder) -> Router:
    opened = Router.load(tmp_path / "router", embedder=embedder)
    yield opened
    opened.close()


def normalised(prompt: str) -> str:
    return " ".join(prompt.lower().split())


def test_committed_gate_is_ir10_and_names_the_default_experts():
    model = onnx.load(str(COMMITTED_GATE))
    assert model.ir_version == 10
    experts = json.loads({p.key: p.value for p in model.metadata_props}["experts"])
    assert experts == DEFAULT_EXPERTS


def test_heldout_set_shares_no_prompt_with_training():
    train = {normalised(e.prompt) for e in load_labelled_prompts(DATA / "train.jsonl").examples}
    heldout = load_labelled_prompts(DATA / "heldout.jsonl").examples
    assert len(heldout) >= 800
    assert not [e.prompt for e in heldout if normalised(e.prompt) in train]


def test_heldout_accuracy_is_at_least_95_percent(router):
    heldout = load_labelled_prompts(DATA / "heldout.jsonl").examples
    decisions = router.route_batch([e.prompt for e in heldout], record=False)
    top1 = np.mean([d.top_expert == e.expert for d, e in zip(decisions, heldout)])
    per_expert = {
        name: np.mean([d.top_expert == e.expert for d, e in zip(decisions, heldout) if e.expert == name])
        for name in DEFAULT_EXPERTS
    }
    assert top1 >= 0.95, per_expert
    assert min(per_expert.values()) >= 0.9, per_expert


def test_embeddings_match_the_reference_model(embedder):
    sentence_transformers = pytest.importorskip("sentence_transformers")
    sentences = ["Open your left gripper, please.", "What is the capital of Norway?",
                 "How do I sort a dict by value in Python?", "solve 3x + 4 = 19", "robot " * 400]
    reference = sentence_transformers.SentenceTransformer(str(reference_model_dir()), device="cpu")
    expected = reference.encode(sentences, normalize_embeddings=True)
    ours = embedder.embed(sentences)
    cosine = (ours * expected).sum(axis=1)
    assert cosine.min() >= 0.99, cosine
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_routes_typical_prompts(router):
    assert router.route("close your right gripper").expert == "robot_control"
    assert router.route("what is seventeen times three").expert == "math"
    assert router.route("How do I read a CSV file with the csv module in Python?").expert == "python"
    decision = router.route("tell me something about the history of Rome")
    assert decision.expert == "general"
    assert list(decision.scores) == sorted(decision.scores, key=decision.scores.get, reverse=True)
    assert sum(decision.scores.values()) == pytest.approx(1.0, abs=1e-4)


def test_empty_prompt_is_an_error_and_nothing_is_recorded(router):
    for prompt in ("", "   \n"):
        with pytest.raises(EmptyPromptError) as raised:
            router.route(prompt)
        assert raised.value.code == ErrorCode.INFERENCE_FAILED
    with pytest.raises(EmptyPromptError, match="prompt 1"):
        router.route_batch(["look left", ""])
    assert router.statistics().total_requests == 0


def test_long_prompt_is_truncated_and_says_so(router):
    long_prompt = "please move your left elbow to thirty degrees " * 2500  # ~100 000 characters
    decision = router.route(long_prompt)
    assert decision.truncated and decision.expert == "robot_control"
    assert not router.route("look up").truncated
    router.record_feedback(long_prompt, "robot_control")  # found by its text, though stored cut short
    [(stored_prompt, expert)] = router.store.corrections()
    assert expert == "robot_control" and long_prompt.startswith(stored_prompt) and len(stored_prompt) == 4096


def test_fallback_below_threshold(router):
    prompt = "open your left gripper"
    confident = router.route(prompt)
    assert confident.top_expert == "robot_control" and not confident.fallback

    router.set_policy(threshold=min(1.0, confident.confidence + 1e-4))
    unsure = router.route(prompt)
    assert unsure.fallback and unsure.expert == "general"
    assert unsure.top_expert == "robot_control" and unsure.confidence == pytest.approx(confident.confidence)

    router.set_policy(threshold=confident.confidence - 1e-4)
    assert router.route(prompt).expert == "robot_control"
    assert router.statistics().fallback_rate == pytest.approx(1 / 3, abs=1e-3)


def test_statistics_feedback_accuracy_and_issues(tmp_path, embedder):
    config = RouterConfig(min_requests_for_issues=6, min_feedback_for_accuracy=2, min_selections_for_confidence=2)
    router = Router.load(tmp_path / "router", config=config, embedder=embedder)
    robot = ["look left", "open the right gripper", "stop moving now", "turn your head right by 20 degrees"]
    other = ["what is 12 plus 30", "who painted the Mona Lisa"]
    decisions = router.route_batch(robot + other)
    assert [d.expert for d in decisions] == ["robot_control"] * 4 + ["math", "general"]

    router.record_feedback(decisions[0].request_id, "robot_control")
    router.record_feedback("open the right gripper", "robot_control")      # by prompt text
    router.record_feedback(decisions[2].request_id, "general")              # the router was wrong
    router.record_feedback(decisions[2].request_id, "math")                 # a new verdict replaces it
    stats = {s.expert_name: s for s in router.statistics().stats}
    assert stats["robot_control"].selections == 4
    assert stats["robot_control"].feedback_count == 3
    assert stats["robot_control"].accuracy == pytest.approx(2 / 3, abs=1e-4)
    assert stats["robot_control"].avg_confidence == pytest.approx(
        np.mean([d.confidence for d in decisions[:4]]), abs=1e-4)
    assert stats["math"].accuracy is None and stats["python"].avg_confidence is None

    report = router.statistics()
    issues = {(i.type, i.expert) for i in report.issues}
    assert ("unused_expert", "python") in issues
    assert ("low_accuracy", "robot_control") in issues
    assert ("unused_expert", "math") not in issues
    assert report.total_requests == 6 and report.fallback_rate == 0.0

    seed_shape = report.to_dict(expert_ids={"python": 5})
    python_row = next(row for row in seed_shape["stats"] if row["expert_name"] == "python")
    assert {"expert_id", "expert_name", "selections", "avg_confidence", "accuracy"} <= set(python_row)
    assert python_row["expert_id"] == 5
    assert {"type", "expert", "recommendation"} <= set(seed_shape["issues"][0])

    message = report.to_message_fields()  # embodied_interfaces/RouterStatistics
    assert message["experts"] == DEFAULT_EXPERTS and message["selections"] == [1, 1, 0, 4]
    assert np.isnan(message["average_confidence"][2]) and np.isnan(message["feedback_accuracy"][1])
    assert "expert 'python' never selected in 6 requests" in message["issues"]
    router.close()


def test_low_confidence_issue(tmp_path, embedder):
    config = RouterConfig(low_confidence=0.9999, min_selections_for_confidence=2)
    router = Router.load(tmp_path / "router", config=config, embedder=embedder)
    router.route_batch(["hmm, what about the thing", "maybe that one over there"])
    assert any(issue.type == "low_confidence" for issue in router.statistics().issues)
    router.close()


def test_feedback_errors(router):
    decision = router.route("look down")
    with pytest.raises(UnknownExpertError) as raised:
        router.record_feedback(decision.request_id, "cooking")
    assert raised.value.code == ErrorCode.EXPERT_NOT_FOUND
    with pytest.raises(RouterError, match="no routed request"):
        router.record_feedback("a prompt that was never routed", "general")


def test_state_survives_a_reload(tmp_path, embedder):
    state = tmp_path / "router"
    first = Router.load(state, embedder=embedder)
    decision = first.route("raise your left arm")
    first.record_feedback(decision.request_id, "robot_control")
    first.set_policy(threshold=0.7)
    before = first.statistics()
    first.close()

    second = Router.load(state, embedder=embedder)
    assert second.statistics() == before
    assert second.config.threshold == 0.7
    second.record_feedback(decision.request_id, "general")  # the decision is still known
    assert second.route("raise your left arm").confidence == pytest.approx(decision.confidence, abs=1e-6)
    second.close()


def _retraining_rows(per_expert: int) -> list[dict[str, str]]:
    rows: dict[str, list[dict[str, str]]] = {}
    for example in load_labelled_prompts(DATA / "train.jsonl").examples:
        rows.setdefault(example.expert, [])
        if len(rows[example.expert]) < per_expert:
            rows[example.expert].append({"prompt": example.prompt, "expert": example.expert})
    return [row for group in rows.values() for row in group]


COOKING_TRAIN = [
    "how long should I boil an egg", "what temperature do I roast a chicken at", "how do I make pancake batter",
    "can I freeze cooked rice", "how much salt goes in pasta water", "what can I substitute for buttermilk",
    "how do I know when bread dough has proofed", "how do I caramelise onions", "what's a good marinade for tofu",
    "how do I thicken a soup", "how long do I bake cookies", "what spices go in a curry",
    "how do I keep avocado from browning", "how do I cook risotto", "should I rest a steak after grilling",
    "how do I make a vinaigrette", "how do I poach salmon", "what oil is best for deep frying",
    "how do I steam broccoli", "how do I make whipped cream",
]
COOKING_HELDOUT = ["what's the trick to a fluffy omelette", "how long does lasagne need in the oven",
                   "how do I stop my pasta sticking together"]


def test_retrain_from_jsonl_adds_an_expert_and_persists(tmp_path, embedder):
    state = tmp_path / "router"
    router = Router.load(state, embedder=embedder)
    assert {router.route(p).expert for p in COOKING_HELDOUT} <= set(DEFAULT_EXPERTS)
    router.record_feedback(router.route("what is 2 to the power of 10").request_id, "math")

    data = tmp_path / "router_training.jsonl"
    lines = [json.dumps(row) for row in _retraining_rows(60)]
    lines += [json.dumps({"prompt": p, "expert": "cooking"}) for p in COOKING_TRAIN]
    lines += ['{"prompt": "no expert"}', "not json"]  # malformed rows: reported, skipped
    data.write_text("\n".join(lines) + "\n")

    result = router.retrain(data, num_epochs=60)
    assert result.gate_version == 2 and "cooking" in result.experts
    assert [e.row for e in result.row_errors] == [len(lines) - 1, len(lines)]
    assert result.reported_row_errors(1) == [str(result.row_errors[0])]
    assert result.reported_row_errors(1)[0].startswith(f"row {len(lines) - 1}: ")
    assert result.summary.startswith(f"gate version 2 trained on {result.metrics.examples} prompts (1 from feedback) ")
    assert result.feedback_examples == 1
    assert result.metrics.examples == 4 * 60 + len(COOKING_TRAIN) + 1
    assert [router.route(p).top_expert for p in COOKING_HELDOUT] == ["cooking"] * 3
    assert router.route("close your left hand").expert == "robot_control"
    assert "cooking" in {s.expert_name for s in router.statistics().stats}
    router.close()

    reloaded = Router.load(state, embedder=embedder)
    assert reloaded.gate_version == 2 and "cooking" in reloaded.experts
    assert reloaded.route(COOKING_HELDOUT[0]).top_expert == "cooking"
    reloaded.close()


def test_retrain_without_the_fallback_expert_is_refused_and_keeps_the_gate(tmp_path, embedder):
    router = Router.load(tmp_path / "router", embedder=embedder)
    before = router.route("look left")
    data = tmp_path / "no_general.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _retraining_rows(5) if r["expert"] != "general"))
    with pytest.raises(DatasetInvalidError, match="fallback expert 'general'") as raised:
        router.retrain(data, include_feedback=False)
    assert raised.value.code == ErrorCode.DATASET_INVALID
    assert router.gate_version == 1 and router.experts == DEFAULT_EXPERTS
    assert router.route("look left").confidence == pytest.approx(before.confidence, abs=1e-6)
    router.close()


def test_train_a_new_router_from_examples(tmp_path, embedder):
    from embodied_ai.experts.router import LabelledPrompt

    examples = [LabelledPrompt(r["prompt"], r["expert"]) for r in _retraining_rows(40)]
    router = Router.train(tmp_path / "fresh", examples, embedder=embedder)
    assert router.experts == DEFAULT_EXPERTS
    assert router.route("what is 81 divided by 9").expert == "math"
    router.close()
    with pytest.raises(DatasetInvalidError):
        Router.train(tmp_path / "bad", [LabelledPrompt("only one expert", "general")], embedder=embedder)


def test_an_unretrained_state_moves_to_a_newer_committed_gate_and_a_retrained_one_does_not(tmp_path, embedder):
    import hashlib

    from embodied_ai.experts.router import train_gate

    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    rows = _retraining_rows(10)
    older = tmp_path / "older_gate.onnx"  # stands for the gate an earlier commit shipped
    older.write_bytes(train_gate(embedder.embed([r["prompt"] for r in rows]), [r["expert"] for r in rows]).onnx_bytes)

    kept, retrained = tmp_path / "kept", tmp_path / "retrained"
    for state in (kept, retrained):
        Router.load(state, initial_gate=older, embedder=embedder).close()
        assert sha(state / "gate.onnx") == sha(older)
    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    router = Router.load(retrained, initial_gate=older, embedder=embedder)
    router.retrain(data, num_epochs=5)
    router.close()
    retrained_sha = sha(retrained / "gate.onnx")

    Router.load(kept, embedder=embedder).close()        # the current committed gate
    Router.load(retrained, embedder=embedder).close()
    assert sha(kept / "gate.onnx") == sha(COMMITTED_GATE)
    assert sha(retrained / "gate.onnx") == retrained_sha != sha(COMMITTED_GATE)
