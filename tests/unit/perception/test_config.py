"""The camera and perception nodes' parameters: the names and defaults they have always had,
a description for each, and ranges that refuse nonsense."""

import pytest
import yaml
from pydantic import ValidationError

from embodied_ai.perception.config import CameraConfig, PerceptionConfig
from tests.conftest import REPO

# The nodes' parameters before they became config models (name: default); the camera's
# ``camera`` and ``frame_id`` defaults are the node's name and that camera's URDF frame.
CAMERA = {"camera": "", "frame_id": "", "source": "sim", "width": 640, "height": 480, "rate_hz": 15.0,
          "horizontal_fov_deg": 90.0, "reconnect_period_s": 2.0, "jpeg_quality": 80, "robot_description_file": "",
          "hardware_config_file": ""}
PERCEPTION = {"model_manifest": "", "model_variant": "", "backend": "onnxruntime", "providers": [""],
              "intra_op_threads": 0, "camera": "head_camera", "robot_description_file": "", "support_z_m": 0.30,
              "centre_height_m": 0.03, "max_frame_age_s": 1.0, "model_retry_s": 5.0}
LAUNCH = yaml.safe_load((REPO / "launch" / "robot.yaml").read_text())["nodes"]


@pytest.mark.parametrize("model, declared, nodes", [(CameraConfig, CAMERA, ["head_camera", "wrist_camera"]),
                                                     (PerceptionConfig, PERCEPTION, ["perception"])])
def test_names_and_defaults_are_unchanged_each_is_described_and_the_launch_config_fits(model, declared, nodes):
    assert model().model_dump() == declared
    assert all(field.description for field in model.model_fields.values())
    for node in nodes:
        assert model.model_validate(LAUNCH[node]["parameters"])


@pytest.mark.parametrize("model, values, named", [
    (CameraConfig, {"rate_hz": 0.0}, "rate_hz"),
    (CameraConfig, {"jpeg_quality": 101}, "jpeg_quality"),
    (CameraConfig, {"horizontal_fov_deg": 180.0}, "horizontal_fov_deg"),
    (PerceptionConfig, {"max_frame_age_s": 0.0}, "max_frame_age_s"),
    (PerceptionConfig, {"intra_op_threads": -1}, "intra_op_threads"),
])
def test_out_of_range_values_are_refused_naming_the_parameter(model, values, named):
    with pytest.raises(ValidationError, match=named):
        model.model_validate(values)
