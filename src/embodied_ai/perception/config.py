"""The camera and perception nodes' parameters: one field per ROS parameter (declared with its
description and range by embodied_ros.kit.parameters), names and defaults as the nodes have
always had them (launch/robot.yaml sets most)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CameraConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    # The node declares these two with defaults of its own: its name, and that camera's frame.
    camera: str = Field(default="", description="which camera this is (head_camera, wrist_camera); "
                                                "default: the node's name")
    frame_id: str = Field(default="", description="the images' frame id; default: the camera's optical frame "
                                                  "in the URDF")
    source: str = Field(default="sim", description="sim (rendered from joint_states), a V4L2 device (0, "
                                                   "/dev/video0), rtsp://..., csi:<sensor-id> (Jetson), "
                                                   "gst:<pipeline> or a video file")
    width: int = Field(default=640, gt=0, description="image width, pixels")
    height: int = Field(default=480, gt=0, description="image height, pixels")
    rate_hz: float = Field(default=15.0, gt=0, description="frames per second")
    horizontal_fov_deg: float = Field(default=90.0, gt=0, lt=180,
                                      description="horizontal field of view, degrees: camera_info's pinhole model")
    reconnect_period_s: float = Field(default=2.0, gt=0,
                                      description="a device that cannot open or stops delivering is reopened "
                                                  "this often, s")
    jpeg_quality: int = Field(default=80, ge=0, le=100,
                              description="image_raw/compressed quality, 0-100 (encoded only while someone listens)")
    robot_description_file: str = Field(default="", description="sim only: the URDF (the camera's pose from the "
                                                                "joints)")
    hardware_config_file: str = Field(default="", description="sim only: the simulator's YAML (the tabletop and its "
                                                              "objects)")


class PerceptionConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    model_manifest: str = Field(default="", description="the detector's manifest (models/tabletop/manifest.yaml): "
                                                        "its files, classes, input and thresholds")
    model_variant: str = Field(default="", description="which of the manifest's files (fp32, int8); "
                                                       "empty: the manifest's default")
    backend: str = Field(default="onnxruntime", description="inference engine: onnxruntime, or tensorrt "
                                                            "(tensorrt and pycuda, on a Jetson)")
    providers: list[str] = Field(default=[""], description="ONNX Runtime execution providers in order of "
                                                           "preference, e.g. CPUExecutionProvider; [\"\"]: the best "
                                                           "available (TensorRT, CUDA, CPU)")
    intra_op_threads: int = Field(default=0, ge=0, description="ONNX Runtime threads per operator; 0: its default")
    camera: str = Field(default="head_camera", description="the camera whose <camera>/image_raw and camera_info "
                                                           "are read")
    robot_description_file: str = Field(default="", description="the URDF, to place objects in base_link from the "
                                                                "head's pose; empty: detections carry no position")
    support_z_m: float = Field(default=0.30, description="height of the surface the objects stand on (the table top) "
                                                         "in base_link, m")
    centre_height_m: float = Field(default=0.03, ge=0, description="an object's centre is taken this far above the "
                                                                   "support (about half its height), m")
    max_frame_age_s: float = Field(default=1.0, gt=0, description="a frame older than this when its turn comes is "
                                                                  "dropped (e.g. frames that waited out a model "
                                                                  "load), s")
    model_retry_s: float = Field(default=5.0, gt=0, description="a model that cannot load is tried again this "
                                                                "often, s")
