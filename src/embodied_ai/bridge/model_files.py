"""Are the model files the product ships there? For ``GET /v1/health/comprehensive``.

The files are the ones the nodes load: each ``models/*/manifest.yaml``'s weights (``files`` beside the manifest,
``file`` for the router's gate, a file inside an installed package: ``package_resource``; and the router's
embedding and tokenizer, found where the router finds them), each default expert's LoRA adapter
(``models/experts/*/manifest.yaml`` of kind ``adapter``: what the experts service seeds its registry from) and
the experts' shared ONNX base, built into the cache (``experts.base_build.built_base``). Only existence and size
are checked here; SHA-256 is the loaders' to verify (a health check must not hash every file on every call)."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from embodied_ai.paths import REPO_ROOT

MODELS_DIR = REPO_ROOT / "models"
EXPERTS_BASE = "experts_base"
FileStatus = Literal["ok", "missing"]


@dataclass(frozen=True)
class ModelFile:
    model: str          # the manifest's name (or experts_base)
    part: str           # a variant (fp32, int8), gate, embedding, adapter or onnx
    path: str
    status: FileStatus
    size_bytes: int | None
    detail: str = ""    # why it is missing


def _size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def check(model: str, part: str, path: Path, required: Path | None = None) -> ModelFile:
    """``path`` is ok when ``required`` (default: ``path`` itself) exists."""
    needed = required or path
    if needed.exists():
        return ModelFile(model, part, str(path), "ok", _size(path))
    return ModelFile(model, part, str(path), "missing", None, f"{needed} does not exist")


def _package_file(model: str, part: str, resource: dict[str, Any]) -> ModelFile:
    package, relative = str(resource.get("package", "")), str(resource.get("path", ""))
    spec = importlib.util.find_spec(package) if package else None
    if spec is None or spec.origin is None:
        return ModelFile(model, part, f"{package}/{relative}", "missing", None,
                         f"the Python package '{package}' is not installed")
    return check(model, part, Path(spec.origin).parent / relative)


def _router_embedding(model: str) -> list[ModelFile]:
    """The router's sentence embedding and its tokenizer, found where the router finds them."""
    from embodied_ai.experts.router.embedding import default_model_path, default_tokenizer_path

    found = []
    for part, locate in (("embedding", default_model_path), ("tokenizer", default_tokenizer_path)):
        try:
            found.append(check(model, part, locate()))
        except ImportError as exc:
            found.append(ModelFile(model, part, "", "missing", None, f"not installed: {exc.name or exc}"))
    return found


def _manifest_files(manifest_path: Path) -> list[ModelFile]:
    folder = manifest_path.parent
    try:
        manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        return [ModelFile(folder.name, "manifest", str(manifest_path), "missing", None, f"unreadable: {exc}")]
    if not isinstance(manifest, dict):
        return [ModelFile(folder.name, "manifest", str(manifest_path), "missing", None, "not a YAML mapping")]
    name = str(manifest.get("name", folder.name))
    found = [check(name, str(variant), folder / str(file)) for variant, file in (manifest.get("files") or {}).items()]
    if manifest.get("file"):
        found.append(check(name, "gate" if manifest.get("family") == "mlp_gate" else "file",
                           folder / str(manifest["file"])))
    if isinstance(manifest.get("package_resource"), dict):
        found.append(_package_file(name, "weights", manifest["package_resource"]))
    if manifest.get("embedding_package"):
        found.extend(_router_embedding(name))
    if manifest.get("kind") == "adapter":   # a default expert: its adapter beside the manifest
        adapter = folder / "adapter"
        found.append(check(name, "adapter", adapter, adapter / "adapter_config.json"))
    return found


def shipped_model_files(models_dir: Path = MODELS_DIR) -> list[ModelFile]:
    """Every file the manifests under ``models_dir`` name (one and two levels down), in path order."""
    manifests = sorted([*models_dir.glob("*/manifest.yaml"), *models_dir.glob("*/*/manifest.yaml")])
    return [file for manifest in manifests for file in _manifest_files(manifest)]


def experts_base_file() -> ModelFile:
    """The experts' shared ONNX base in the cache (reads the base's GGUF to find its cache key: call it off the
    event loop)."""
    from embodied_ai.experts.base_build import built_base  # heavy imports, only when asked

    try:
        base = built_base()
    except (FileNotFoundError, ImportError) as exc:
        return ModelFile(EXPERTS_BASE, "onnx", "", "missing", None, str(exc))
    if base is None:
        return ModelFile(EXPERTS_BASE, "onnx", "", "missing", None,
                         "not built for this recipe: run the experts' setup (experts.base_build)")
    return check(EXPERTS_BASE, "onnx", base.onnx_dir)


def product_model_files() -> list[ModelFile]:
    """The manifests' files, then the experts' base (imports and reads files: call it off the event loop)."""
    return [*shipped_model_files(), experts_base_file()]
