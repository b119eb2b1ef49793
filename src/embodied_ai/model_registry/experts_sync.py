"""Every trained expert version mirrored in the model registry, so that one registry lists all
trained artefacts.

An expert version with files (``adapter``: an ``.onnx_adapter`` file on the shared base;
``model``: an ONNX model folder of its own) becomes a model version named after its expert,
numbered like the expert version when that number is free, with the version's metrics, and
its files as the ``onnx_adapter`` or ``onnx_model`` export. The shared base's ``base``
versions have no files of their own and are not mirrored. A version that an expert got from a
registry model (``ModelsService.load`` of a pipeline output, which records the model's id in
the version's config under ``FROM_MODEL``) is that model already and is not mirrored again.

``sync_expert_versions`` is idempotent: the jobs node calls it when it starts and after each
training job. A version registered without its export (a crash between the two writes) gets it
on the next call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from embodied_ai.database import MAX_PAGE
from embodied_ai.errors import Conflict, InvalidRequest
from embodied_ai.experts.registry import Expert, ExpertRegistry, ExpertVersion
from embodied_ai.model_registry.store import ModelKind, ModelRegistry, ModelSource, ModelVersion

log = logging.getLogger(__name__)

ONNX_ADAPTER = "onnx_adapter"      # the export format of an adapter version (exports.formats' name)
ONNX_MODEL = "onnx_model"          # the export format of an expert's own ONNX model folder
# Expert version kind -> the model kind and export format that mirror it.
MIRRORED: dict[str, tuple[ModelKind, str]] = {
    "adapter": (ModelKind.EXPERT_ADAPTER, ONNX_ADAPTER),
    "model": (ModelKind.EXPERT_MODEL, ONNX_MODEL),
}
FROM_MODEL = "model_id"            # an expert version's config key: the registry model it was made from
SERVER_PATHS = ("peft",)           # version config keys that are paths on this machine, kept out of the card


def sync_expert_versions(experts: ExpertRegistry, models: ModelRegistry) -> list[ModelVersion]:
    """Register every expert version not mirrored yet (oldest first); returns the versions registered now."""
    added: list[ModelVersion] = []
    for expert in _live_experts(experts):
        mirrors = _mirrors(models, expert.id)
        for version in expert.versions:
            if version.kind not in MIRRORED or version.path is None or FROM_MODEL in version.config:
                continue
            path = experts.state_dir / version.path
            if not path.exists():
                log.warning("expert %s version %d is not mirrored in the model registry: %s is missing",
                            expert.name, version.version, path)
                continue
            kind, format = MIRRORED[version.kind]
            model = mirrors.get(version.version)
            if model is None:
                model = _register(models, expert, version, kind, {format: path})
                if model is None:
                    continue
                added.append(model)
            if model.artefact(format) is None:
                models.add_artefact(model.id, format, path)
    return [models.get(model.id) for model in added]


def _live_experts(experts: ExpertRegistry) -> Iterator[Expert]:
    offset = 0
    while True:
        page, total = experts.list(sort_by="id", limit=MAX_PAGE, offset=offset)
        yield from page
        offset += len(page)
        if not page or offset >= total:
            return


def _mirrors(models: ModelRegistry, expert_id: int) -> dict[int, ModelVersion]:
    """The registry's versions of an expert, by expert version."""
    found: dict[int, ModelVersion] = {}
    offset = 0
    while True:
        page, total = models.list(expert_id=expert_id, limit=MAX_PAGE, offset=offset)
        found.update({m.source.expert_version: m for m in page if m.source.expert_version is not None})
        offset += len(page)
        if not page or offset >= total:
            return found


def _register(models: ModelRegistry, expert: Expert, version: ExpertVersion, kind: ModelKind,
              artefacts: dict[str, Path]) -> ModelVersion | None:
    """The new mirror of ``version``, numbered like it when that number of the name is free; None when it cannot
    be registered (logged) or another caller registered it meanwhile."""
    base_model = str(expert.config.get("base_model") or "") if kind is ModelKind.EXPERT_ADAPTER else ""
    training_config = {k: v for k, v in version.config.items() if k not in SERVER_PATHS}
    source = ModelSource(expert_id=expert.id, expert_version=version.version)
    for number in (version.version, None):
        try:
            return models.register(expert.name, kind, base_model=base_model, version=number,
                                   training_config=training_config, metrics=version.metrics, source=source,
                                   description=version.note, artefacts=artefacts)
        except Conflict:
            if version.version in _mirrors(models, expert.id):
                return None       # registered by a concurrent call
        except InvalidRequest as exc:
            log.warning("expert %s version %d is not mirrored in the model registry: %s", expert.name,
                        version.version, "; ".join(exc.problems) or exc.message)
            return None
    return None
