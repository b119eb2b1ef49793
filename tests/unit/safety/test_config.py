"""launch/safety.yaml: every field documented there, the shipped values are the defaults, and
a wrong file is refused naming the field."""

import re

import pytest
import yaml
from pydantic import BaseModel

from embodied_ai.safety.config import SafetyConfig, load_safety_config
from tests.conftest import SAFETY


def field_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    paths = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= field_paths(annotation, f"{prefix}{name}.")
        else:
            paths.add(f"{prefix}{name}")
    return paths


def yaml_paths(data: dict, prefix: str = "") -> set[str]:
    paths = set()
    for key, value in data.items():
        paths |= yaml_paths(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}"}
    return paths


def test_the_shipped_file_sets_every_field_to_its_default():
    assert yaml_paths(yaml.safe_load(SAFETY.read_text())) == field_paths(SafetyConfig)
    assert load_safety_config(SAFETY) == SafetyConfig() == load_safety_config(None)


def test_every_value_in_the_shipped_file_says_what_it_is_for():
    for line in SAFETY.read_text().splitlines():
        if re.match(r"\s*\w+:\s*\S", line):   # a key with a value (sections have none)
            assert "#" in line, f"no comment: {line!r}"


@pytest.mark.parametrize("text, named", [
    ("control:\n  arrival_tolerance_rad: 0.0\n", "arrival_tolerance_rad"),
    ("grasp:\n  backoff_rad: -0.05\n", "backoff_rad"),
    ("control:\n  arival_tolerance_rad: 0.02\n", "arival_tolerance_rad"),   # a typo is not ignored
])
def test_a_wrong_value_or_name_is_refused_naming_the_field(tmp_path, text, named):
    path = tmp_path / "safety.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=named):
        load_safety_config(path)


def test_a_value_in_the_file_overrides_its_default(tmp_path):
    path = tmp_path / "safety.yaml"
    path.write_text("control:\n  settle_timeout_s: 0.25\ngrasp:\n  backoff_rad: 0.1\n")
    config = load_safety_config(path)
    assert (config.control.settle_timeout_s, config.grasp.backoff_rad) == (0.25, 0.1)
    assert config.control.arrival_tolerance_rad == SafetyConfig().control.arrival_tolerance_rad
