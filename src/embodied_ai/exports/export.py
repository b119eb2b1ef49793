"""Export a trained model version in one of the formats of ``formats``.

A version is either an adapter-trained one (the shared base's HF folder + a PEFT LoRA folder,
what ``training.TrainingJob`` leaves in ``output/`` for a LoRA job) or a fully trained small
model (an HF model folder, ``output/`` of a scratch job, whose tokenizer is the base's).

Every export is written into a scratch folder beside ``out_dir`` and renamed onto it only once
it is complete and checked, so a failure (or a kill) never leaves a half-written export, and a
previous export at ``out_dir`` survives a failed re-export. ``out_dir/export.json`` records what
was written and the checks' figures (``load_export`` reads it back).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from embodied_ai.errors import EmbodiedError, InvalidRequest
from embodied_ai.experts.adapters import peft_to_onnx_tensors, write_onnx_adapter
from embodied_ai.exports.formats import (
    ADAPTER,
    GGUF,
    MERGED,
    ExportFailed,
    ExportFormat,
    export_format,
)
from embodied_ai.exports.gguf_io import CHECK_PROMPTS, DEFAULT_GGUF_TYPE, check_gguf, gguf_type, write_gguf

MANIFEST = "export.json"
PEFT_FILES = ("adapter_config.json", "adapter_model.safetensors")
# Merging reorders float32 sums (W·x + s·B(A·x) → (W + s·BA)·x); anything beyond this fraction
# of the logit scale is a wrong merge, not rounding.
MERGE_RTOL = 1e-4


@dataclass(frozen=True)
class ExportResult:
    """A finished export. ``path`` is the file for a single-file format, else the folder;
    ``files`` are relative to the folder; ``sha256`` is the file's digest, or for a folder the
    digest of its ``sha256sum``-style listing (``<hex>  <name>\\n`` per file, sorted by name)."""

    format: str
    path: Path
    files: tuple[str, ...]
    bytes: int
    sha256: str
    checks: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Source:
    base_hf_dir: Path | None
    adapter_dir: Path | None
    model_dir: Path | None

    @property
    def tokenizer_dir(self) -> Path:
        """A full model's own tokenizer if it saved one, else the base's (training saves none)."""
        for directory in (self.model_dir, self.base_hf_dir):
            if directory is not None and (directory / "tokenizer_config.json").is_file():
                return directory
        raise InvalidRequest("no tokenizer to export with the model",
                             ["neither model_dir nor base_hf_dir holds tokenizer_config.json"])


def export(format: str, *, base_hf_dir: Path | None, adapter_dir: Path | None = None,
           model_dir: Path | None = None, out_dir: Path, gguf_tensor_type: str = DEFAULT_GGUF_TYPE,
           tokenizer_gguf: Path | None = None, base_inputs: set[str] | None = None,
           name: str = "") -> ExportResult:
    """Write ``format`` of a version into ``out_dir`` (replacing an earlier export there).

    ``adapter_dir`` with ``base_hf_dir``: an adapter-trained version. ``model_dir``: a fully
    trained model (its tokenizer comes from ``base_hf_dir`` when it has none); ``adapter`` and
    ``onnx_adapter`` are refused for it. ``gguf_tensor_type``: F16 (default), Q8_0 or F32.
    ``tokenizer_gguf``: the GGUF the tokenizer came from (``base_build.locate_gguf()`` for the
    shared base), whose tokenizer metadata is then copied verbatim. ``base_inputs``: the served
    ONNX base's LoRA inputs, against which an ``onnx_adapter`` is validated. ``name`` goes into
    the GGUF's ``general.name``. Raises InvalidRequest for a bad request, ExportFailed when
    writing or a check fails.
    """
    spec = export_format(format)
    source = _validated_source(spec, base_hf_dir, adapter_dir, model_dir)
    if spec.name == GGUF:
        gguf_type(gguf_tensor_type)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        if spec.name == ADAPTER:
            checks = _write_adapter(source, scratch)
        elif spec.name == MERGED:
            checks = _write_merged(source, scratch)
        elif spec.name == GGUF:
            checks = _write_gguf(source, scratch, gguf_tensor_type, tokenizer_gguf, name)
        else:
            checks = _write_onnx_adapter(source, scratch, base_inputs)
        missing = [f for f in spec.files if not (scratch / f).is_file()]
        if missing:
            raise ExportFailed(f"{spec.name} export wrote no {', '.join(missing)}")
        result = _describe(spec, scratch, checks)
        (scratch / MANIFEST).write_text(json.dumps({
            **asdict(result), "path": result.path.name, "created_at": _now(),
            "source": {k: str(v) if v is not None else None for k, v in asdict(source).items()},
        }, indent=2, default=str) + "\n")
        _replace(scratch, out_dir)
    except BaseException as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        if isinstance(exc, Exception) and not isinstance(exc, EmbodiedError):
            raise ExportFailed(f"{spec.name} export failed: {type(exc).__name__}: {exc}") from exc
        raise
    return load_export(out_dir)


def load_export(out_dir: Path) -> ExportResult:
    """The ExportResult recorded in ``out_dir/export.json``."""
    manifest = out_dir / MANIFEST
    if not manifest.is_file():
        raise ExportFailed(f"{out_dir} holds no finished export ({MANIFEST} missing)")
    data = json.loads(manifest.read_text())
    spec = export_format(data["format"])
    return ExportResult(format=spec.name, path=out_dir / spec.files[0] if spec.single_file else out_dir,
                        files=tuple(data["files"]), bytes=int(data["bytes"]), sha256=data["sha256"],
                        checks=data.get("checks", {}))


def write_archive(result: ExportResult, dest: Path) -> Path:
    """A folder export as the uncompressed tar its download is (members sorted, times and owners
    zeroed, so the same export always gives the same bytes); ``dest`` is the tar's path."""
    folder = result.path if result.path.is_dir() else result.path.parent
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(result.files):
            info = archive.gettarinfo(str(folder / name), arcname=name)
            info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, 0, 0, "", "", 0o644
            with (folder / name).open("rb") as handle:
                archive.addfile(info, handle)
    partial.replace(dest)
    return dest


# -- inputs -------------------------------------------------------------------------------
def _validated_source(spec: ExportFormat, base_hf_dir: Path | None, adapter_dir: Path | None,
                      model_dir: Path | None) -> _Source:
    if (adapter_dir is None) == (model_dir is None):
        raise InvalidRequest("give either adapter_dir (an adapter-trained version) or model_dir (a fully trained "
                             "model)", ["exactly one of adapter_dir and model_dir is needed"])
    if adapter_dir is None and spec.needs_adapter:
        raise InvalidRequest(f"format {spec.name!r} needs an adapter-trained version; this model was fully trained "
                             f"(it has no adapter): export 'merged' or 'gguf'",
                             [f"format: {spec.name!r} is not available for a fully trained model"])
    problems = []
    if adapter_dir is not None:
        problems += [f"adapter_dir: {adapter_dir / name} is missing"
                     for name in PEFT_FILES if not (adapter_dir / name).is_file()]
        if spec.name in (MERGED, GGUF) and base_hf_dir is None:
            problems.append("base_hf_dir: merging an adapter needs the base it was trained on")
    if model_dir is not None and not (model_dir / "config.json").is_file():
        problems.append(f"model_dir: {model_dir / 'config.json'} is missing")
    if base_hf_dir is not None and not (base_hf_dir / "config.json").is_file():
        problems.append(f"base_hf_dir: {base_hf_dir / 'config.json'} is missing")
    if problems:
        raise InvalidRequest(f"cannot export {spec.name}: the model's files are incomplete", problems)
    return _Source(base_hf_dir, adapter_dir, model_dir)


# -- writers (each returns its checks' figures) -------------------------------------------
def _write_adapter(source: _Source, out: Path) -> dict[str, Any]:
    from safetensors import safe_open

    assert source.adapter_dir is not None
    config = json.loads((source.adapter_dir / "adapter_config.json").read_text())
    if config.get("peft_type") != "LORA":
        raise InvalidRequest("the adapter is not a LoRA adapter", [f"peft_type is {config.get('peft_type')!r}"])
    for name in PEFT_FILES:
        shutil.copyfile(source.adapter_dir / name, out / name)
    # Reading every tensor back proves the copy is complete safetensors, not only a header.
    with safe_open(str(out / "adapter_model.safetensors"), framework="numpy") as weights:
        keys = list(weights.keys())
        dtypes = sorted({str(weights.get_tensor(key).dtype) for key in keys})
    return {"tensors": len(keys), "dtypes": dtypes, "r": config.get("r"), "lora_alpha": config.get("lora_alpha"),
            "target_modules": config.get("target_modules")}


def _write_merged(source: _Source, out: Path) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.tokenizer_dir)
    model, reference = _merged_model(source, tokenizer)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    reloaded = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    return {"merged_from_adapter": source.adapter_dir is not None, "dtype": "float32",
            **_compare_logits(reference, _logits(reloaded, tokenizer))}


def _write_gguf(source: _Source, out: Path, tensor_type: str, tokenizer_gguf: Path | None,
                name: str) -> dict[str, Any]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(source.tokenizer_dir)
    model, _ = _merged_model(source, tokenizer, with_reference=False)
    path = out / "model.gguf"
    counts = write_gguf(model, source.tokenizer_dir, path, tensor_type, tokenizer_gguf, name)
    return {**check_gguf(path, model, tokenizer, tensor_type), "tensor_types": counts}


def _write_onnx_adapter(source: _Source, out: Path, base_inputs: set[str] | None) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort

    assert source.adapter_dir is not None
    try:
        expected = peft_to_onnx_tensors(source.adapter_dir, base_inputs)
    except ValueError as exc:
        raise InvalidRequest("the adapter does not fit the served ONNX base", [str(exc)]) from exc
    path = write_onnx_adapter(source.adapter_dir, out / "adapter.onnx_adapter", base_inputs)
    # Read it back with ONNX Runtime's own adapter reader (what ORT GenAI's Adapters.load uses).
    # The OrtValues view the reader's buffer: copy them while it is alive.
    reader = ort.AdapterFormat.read_adapter(str(path))
    written = {key: np.array(value.numpy(), copy=True) for key, value in reader.get_parameters().items()}
    del reader
    if set(written) != set(expected):
        raise ExportFailed(f"onnx_adapter check: parameters {sorted(set(written) ^ set(expected))} differ")
    max_abs = max((float(np.abs(written[k] - expected[k]).max()) for k in expected if expected[k].size), default=0.0)
    if max_abs != 0.0:
        raise ExportFailed(f"onnx_adapter check: tensors differ from the PEFT adapter by {max_abs}")
    return {"parameters": len(written), "max_abs_diff_vs_peft": max_abs,
            "checked_against_base_inputs": base_inputs is not None}


# -- models -------------------------------------------------------------------------------
def _merged_model(source: _Source, tokenizer: Any, with_reference: bool = True) -> tuple[Any, Any]:
    """The model to export (the adapter merged into the base, or the full model) and, when
    asked, the logits of what was trained (the base with the adapter applied, unmerged)."""
    import torch
    from transformers import AutoModelForCausalLM

    if source.model_dir is not None:
        model = AutoModelForCausalLM.from_pretrained(source.model_dir, dtype=torch.float32).eval()
        return model, _logits(model, tokenizer) if with_reference else None
    from peft import PeftModel

    assert source.base_hf_dir is not None and source.adapter_dir is not None   # _validated_source
    base = AutoModelForCausalLM.from_pretrained(source.base_hf_dir, dtype=torch.float32)
    adapted = PeftModel.from_pretrained(base, str(source.adapter_dir)).eval()
    reference = _logits(adapted, tokenizer) if with_reference else None
    return adapted.merge_and_unload().eval(), reference


def _logits(model: Any, tokenizer: Any) -> list[Any]:
    import torch

    with torch.no_grad():
        return [model(input_ids=tokenizer(p, return_tensors="pt", add_special_tokens=False)["input_ids"]).logits[0]
                for p in CHECK_PROMPTS]


def _compare_logits(expected: list[Any], got: list[Any]) -> dict[str, Any]:
    largest = max(float(e.abs().max()) for e in expected)
    max_abs = max(float((e - g).abs().max()) for e, g in zip(expected, got))
    bound = MERGE_RTOL * max(1.0, largest)
    figures = {"max_abs_logit_diff": max_abs, "logit_scale": largest, "tolerance": bound,
               "top1_agreement": sum(int((e.argmax(-1) == g.argmax(-1)).sum()) for e, g in zip(expected, got))
               / sum(int(e.shape[0]) for e in expected)}
    if not max_abs <= bound:
        raise ExportFailed(f"merged check: the saved model's logits differ by {max_abs:.3g} > {bound:.3g}",
                           checks=figures)
    return figures


# -- results ------------------------------------------------------------------------------
def _describe(spec: ExportFormat, folder: Path, checks: dict[str, Any]) -> ExportResult:
    files = tuple(sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST))
    digests = {name: _sha256(folder / name) for name in files}
    if spec.single_file:
        sha256 = digests[spec.files[0]]
    else:
        sha256 = hashlib.sha256("".join(f"{digests[n]}  {n}\n" for n in files).encode()).hexdigest()
    return ExportResult(format=spec.name, path=folder / spec.files[0] if spec.single_file else folder, files=files,
                        bytes=sum((folder / n).stat().st_size for n in files), sha256=sha256, checks=checks)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _replace(scratch: Path, out_dir: Path) -> None:
    """Put the finished ``scratch`` at ``out_dir``; an earlier export there goes only after."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}-old-{scratch.name}")
        out_dir.rename(old)
    try:
        scratch.rename(out_dir)
    except BaseException:
        if old is not None:
            old.rename(out_dir)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
