"""The export formats of a trained model version, in one place.

=============  =====================================================  ==========  ===========================
format         what ``export`` writes into its folder                 download    media type
=============  =====================================================  ==========  ===========================
adapter        ``adapter_config.json``, ``adapter_model.safetensors``  ``.tar``    ``application/x-tar``
               (the PEFT LoRA adapter, loadable with ``peft``)
merged         the base with the adapter merged (or the fully          ``.tar``    ``application/x-tar``
               trained model): ``config.json``,
               ``generation_config.json``, ``model.safetensors``
               and the tokenizer files (Hugging Face layout)
gguf           ``model.gguf`` (llama architecture, weights F16 by      the file    ``application/octet-stream``
               default, tokenizer embedded), checked against the
               merged model's logits
onnx_adapter   ``adapter.onnx_adapter``: what the runtime serves on   the file    ``application/octet-stream``
               the shared ONNX base (ONNX Runtime's adapter format)
=============  =====================================================  ==========  ===========================

A format that is one file downloads as that file; a format that is a folder downloads as an
uncompressed tar of the folder's artefact files (safetensors weights barely compress, and a
tar can be streamed without a second copy on disk). ``export.json`` (the export's manifest)
stays on the server and is not part of a download.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from embodied_ai.errors import EmbodiedError, ErrorCode, InvalidRequest

ADAPTER = "adapter"
MERGED = "merged"
GGUF = "gguf"
ONNX_ADAPTER = "onnx_adapter"

TAR_MEDIA_TYPE = "application/x-tar"
BINARY_MEDIA_TYPE = "application/octet-stream"


class ExportFailed(EmbodiedError):
    """An export could not be written or did not pass its check (``checks`` holds the figures
    measured so far). It carries TRAINING_FAILED: exporting is the last step of producing a
    model version, and the Robot API has no closer code."""

    code = ErrorCode.TRAINING_FAILED

    def __init__(self, message: str, checks: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.checks = dict(checks or {})


@dataclass(frozen=True)
class ExportFormat:
    """What one format produces and how it is downloaded."""

    name: str
    description: str
    # The files ``export`` always writes (a merged folder also holds the tokenizer's files,
    # which depend on the tokenizer).
    files: tuple[str, ...]
    single_file: bool                   # True: the download is ``files[0]`` itself; False: a tar
    needs_adapter: bool                 # only an adapter-trained version has it

    @property
    def media_type(self) -> str:
        return BINARY_MEDIA_TYPE if self.single_file else TAR_MEDIA_TYPE

    @property
    def download_suffix(self) -> str:
        """The download's file name suffix (``model-v3-gguf.gguf``, ``model-v3-merged.tar``)."""
        return "." + self.files[0].rsplit(".", 1)[1] if self.single_file else ".tar"


FORMATS: dict[str, ExportFormat] = {spec.name: spec for spec in (
    ExportFormat(ADAPTER, "the PEFT LoRA adapter (safetensors and adapter_config.json)",
                 ("adapter_config.json", "adapter_model.safetensors"), single_file=False, needs_adapter=True),
    ExportFormat(MERGED, "the base with the adapter merged, or the fully trained model (Hugging Face safetensors, "
                         "config and tokenizer)",
                 ("config.json", "model.safetensors"), single_file=False, needs_adapter=False),
    ExportFormat(GGUF, "the merged model as one GGUF file (llama architecture, tokenizer embedded)",
                 ("model.gguf",), single_file=True, needs_adapter=False),
    ExportFormat(ONNX_ADAPTER, "the adapter as the runtime serves it on the shared ONNX base",
                 ("adapter.onnx_adapter",), single_file=True, needs_adapter=True),
)}
FORMAT_NAMES: tuple[str, ...] = tuple(FORMATS)


def export_format(name: str) -> ExportFormat:
    """The format called ``name``; an unknown name is refused with the valid ones listed."""
    spec = FORMATS.get(name)
    if spec is None:
        valid = ", ".join(FORMAT_NAMES)
        raise InvalidRequest(f"unknown export format {name!r}; valid formats: {valid}",
                             [f"format: {name!r} is not one of {valid}"])
    return spec


def validate_formats(names: list[str]) -> list[ExportFormat]:
    """Every format in ``names`` (an ExportAgent's ``formats``), with every unknown one listed."""
    unknown = [name for name in names if name not in FORMATS]
    if unknown:
        valid = ", ".join(FORMAT_NAMES)
        raise InvalidRequest(f"unknown export format(s) {', '.join(map(repr, unknown))}; valid formats: {valid}",
                             [f"format: {name!r} is not one of {valid}" for name in unknown])
    return [FORMATS[name] for name in names]
