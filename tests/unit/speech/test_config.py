"""The speech nodes' parameters: the engines' own defaults, the values launch/robot.yaml gives,
ranges refused up front and combinations the engines refuse."""

from __future__ import annotations

import pytest
import yaml
from pydantic import ValidationError

from embodied_ai.speech.asr import AsrConfig
from embodied_ai.speech.commander import DEFAULT_WAKE_PHRASES, ActivationMode
from embodied_ai.speech.config import AsrNodeConfig, CommanderNodeConfig, TtsNodeConfig
from embodied_ai.speech.tts import TtsConfig
from embodied_ai.speech.vad import VadConfig
from tests.conftest import REPO

CONFIGS = {"asr": AsrNodeConfig, "tts": TtsNodeConfig, "commander": CommanderNodeConfig}


def test_defaults_are_the_engines_own_with_the_same_types() -> None:
    """Same defaults and the same Python types: ROS declares each parameter with its type."""
    node = AsrNodeConfig()
    assert node.asr() == AsrConfig() and node.vad() == VadConfig() and TtsNodeConfig().tts() == TtsConfig()
    for engine, config in ((AsrConfig(), node), (VadConfig(), node), (TtsConfig(), TtsNodeConfig())):
        for name, default in vars(engine).items():
            assert type(getattr(config, name)) is type(default), name
    assert (node.microphone, node.end_of_stream_s, TtsNodeConfig().playback_device) == ("", 1.0, "")
    commander = CommanderNodeConfig()
    assert commander.activation is ActivationMode.WAKE_PHRASE and commander.wake_phrases == list(DEFAULT_WAKE_PHRASES)
    assert (commander.follow_up_s, commander.handler_action, commander.handler_wait_s, commander.handler_timeout_s,
            commander.speak_replies) == (5.0, "handle_command", 1.0, 60.0, True)


@pytest.mark.parametrize("node", sorted(CONFIGS))
def test_robot_yaml_values_fit(node: str) -> None:
    parameters = yaml.safe_load((REPO / "launch" / "robot.yaml").read_text())["nodes"][node]["parameters"]
    config = CONFIGS[node].model_validate(parameters)
    assert config.model_dump(include=set(parameters)) == {
        k: (ActivationMode(v) if k == "activation" else v) for k, v in parameters.items()}


def test_every_field_says_what_it_is() -> None:
    for model in CONFIGS.values():
        for name, field in model.model_fields.items():
            assert field.description and len(field.description) > 10, f"{model.__name__}.{name}"


@pytest.mark.parametrize("model, values", [
    (AsrNodeConfig, {"beam_size": 0}), (AsrNodeConfig, {"temperature": 1.5}), (AsrNodeConfig, {"threshold": 1.0}),
    (AsrNodeConfig, {"max_utterance_s": 40.0}), (TtsNodeConfig, {"speed": 10.0}),
    (TtsNodeConfig, {"max_sentence_chars": 5}), (CommanderNodeConfig, {"activation": "clap"}),
    (CommanderNodeConfig, {"handler_timeout_s": 0.0}), (AsrNodeConfig, {"no_such_parameter": 1}),
])
def test_values_out_of_range_are_refused(model: type, values: dict) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(values)


def test_values_that_do_not_fit_together_are_refused_by_the_engines() -> None:
    with pytest.raises(ValueError, match="neg_threshold"):
        AsrNodeConfig(threshold=0.4, neg_threshold=0.6).vad()
    with pytest.raises(ValueError, match="engine"):
        TtsNodeConfig(engine="festival").tts()
