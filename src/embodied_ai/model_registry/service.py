"""The model registry as the jobs node serves it: lists, records, cards, serving figures,
downloads, and loading into the serving engine.

Loading goes through ``Serving`` (the experts node's ``set_expert_loaded``), which serves
experts, an expert's current version each:

- a version that mirrors an expert version (``experts_sync``) loads that expert, when it is the
  expert's current version (the engine serves no other);
- a pipeline output with an ``onnx_adapter`` export becomes servable first: the expert named
  after the model gets that adapter as its new current version (the expert is created when
  missing, and is ready at once), then it is loaded (an engine that refuses it removes an expert
  created for it; a version added to an existing expert stays, as every expert version does);
- anything else is a Conflict that says why.

A loaded version is ``deployed`` (``model.loaded`` to the registry's listeners); the other
versions the same expert served before are ``trained`` again. The OpenAI name of a servable
version (the one ``/v1/chat/completions`` accepts) is its expert's name, which is its own name.

A download is the export's file, or a folder's files as the uncompressed tar that
``exports.export.write_archive`` writes (the export's manifest, which names server paths,
stays out), packed once per export digest under ``archive_dir`` after the folder is checked
against the digest recorded at registration.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from embodied_ai.database import MAX_PAGE
from embodied_ai.errors import Conflict, EmbodiedError, ErrorCode, InvalidRequest, NotFound
from embodied_ai.experts.registry import Expert, ExpertNotFound, ExpertRegistry
from embodied_ai.exports.export import MANIFEST, ExportResult, write_archive
from embodied_ai.exports.formats import BINARY_MEDIA_TYPE, TAR_MEDIA_TYPE
from embodied_ai.model_registry.card import model_card
from embodied_ai.model_registry.experts_sync import FROM_MODEL, ONNX_ADAPTER, sync_expert_versions
from embodied_ai.model_registry.performance import MetricsSeries, Performance, PerformanceLog
from embodied_ai.model_registry.store import (
    DEFAULT_PAGE,
    Artefact,
    ModelKind,
    ModelRegistry,
    ModelStatus,
    ModelVersion,
    tree_sha256,
)

ARCHIVE_DIR = "model_archives"    # under the registry's artefact root (the state directory)
ARCHIVE_SUFFIX = ".tar"
WHAT = ("info", "card", "metrics", "performance")    # what ``describe`` answers
_EXPERT_NAME = re.compile(r"(?![0-9]+$)[A-Za-z0-9_-]{1,64}")   # as the experts' registry names experts


class Serving(Protocol):
    """The serving engine, by expert (the experts node's ``set_expert_loaded``)."""

    def load(self, expert: str) -> str:
        """Load the expert's current version; the engine's message. EmbodiedError when it refuses."""
        ...

    def unload(self, expert: str) -> str:
        """Unload the expert; the engine's message."""
        ...


class NoServing:
    """Where nothing serves models (a job system opened without an experts node): loading is refused."""

    def load(self, expert: str) -> str:
        raise EmbodiedError(f"no serving engine here to load '{expert}' into", ErrorCode.EXPERT_NOT_READY)

    def unload(self, expert: str) -> str:
        raise EmbodiedError(f"no serving engine here to unload '{expert}' from", ErrorCode.EXPERT_NOT_READY)


@dataclass(frozen=True)
class Download:
    """What a download sends: a file on this machine (the bridge runs on it, on the same state directory)."""

    path: Path
    media_type: str
    filename: str                  # <name>-v<N>-<format><suffix>
    bytes: int
    sha256: str                    # of the file sent; "" for a folder's tar (its files are the export's digest)


class ModelsService:
    """Safe to share between threads; loads and unloads run one at a time."""

    def __init__(self, models: ModelRegistry, performance: PerformanceLog, experts: ExpertRegistry,
                 serving: Serving, archive_dir: Path | None = None) -> None:
        self.models, self.performance_log, self.experts, self.serving = models, performance, experts, serving
        self.archive_dir = archive_dir or models.artefact_root / ARCHIVE_DIR
        self._serving_lock = threading.Lock()
        self._archive_lock = threading.Lock()

    # -- reads ------------------------------------------------------------------------
    def list_models(self, kind: str | None = None, status: str | None = None, name: str | None = None,
                    base_model: str | None = None, limit: int = DEFAULT_PAGE,
                    offset: int = 0) -> tuple[list[ModelVersion], int]:
        """A page of versions, newest registration first, and how many match; InvalidRequest lists every
        problem of the filters and paging."""
        return self.models.list(kind=kind, status=status, name=name, base_model=base_model, limit=limit,
                                offset=offset)

    def get(self, key: str) -> ModelVersion:
        """By id (``mdl_...``), ``name:N`` or name (its newest version); NotFound otherwise."""
        return self.models.get(key)

    def card(self, key: str) -> str:
        return model_card(self.models.get(key))

    def metrics(self, key: str, start_time: str | None = None, end_time: str | None = None,
                interval: str = "1m") -> MetricsSeries:
        return self.performance_log.metrics(self.models.get(key).id, start_time, end_time, interval)

    def performance(self, key: str) -> Performance:
        return self.performance_log.performance(self.models.get(key).id)

    def describe(self, key: str, what: str = "info", start_time: str | None = None, end_time: str | None = None,
                 interval: str = "1m") -> dict[str, Any]:
        """One of ``WHAT``, JSON-ready: the record (``view``), the card with the version it describes, the
        metrics time series, or the performance figures; InvalidRequest for another ``what``."""
        if what not in WHAT:
            raise InvalidRequest("invalid model request", [f"what: {what!r} is not one of: {', '.join(WHAT)}"])
        model = self.models.get(key)
        if what == "card":
            return {"model_id": model.id, "model_name": model.name, "version": model.version,
                    "card": self.card(model.id)}
        if what == "metrics":
            return self.metrics(model.id, start_time, end_time, interval).to_dict()
        if what == "performance":
            return self.performance(model.id).to_dict()
        return self.view(model)

    def view(self, model: ModelVersion) -> dict[str, Any]:
        """The record as JSON-ready fields, with ``servable``: whether chat completions serve it now under its
        name (it is its ready expert's current version)."""
        return self.views([model])[0]

    def views(self, models: list[ModelVersion]) -> list[dict[str, Any]]:
        lookup = _ExpertLookup(self.experts)
        views = []
        for model in models:
            expert = self._serving_expert(model, lookup)
            views.append({**model.to_dict(), "servable": expert is not None and expert.status == "ready"})
        return views

    def sync(self) -> list[ModelVersion]:
        """Mirror the expert versions not registered yet (``experts_sync``)."""
        return sync_expert_versions(self.experts, self.models)

    # -- download ---------------------------------------------------------------------
    def download(self, key: str, format: str) -> Download:
        """The export in ``format``: NotFound naming the formats the version has; Conflict when a folder's files
        no longer match the digest recorded for them."""
        model = self.models.get(key)
        artefact = self.models.artefact(model.id, format)
        stem = f"{model.name}-v{model.version}-{artefact.format}"
        if not artefact.is_dir:
            return Download(artefact.path, BINARY_MEDIA_TYPE, stem + artefact.path.suffix, artefact.path.stat().st_size,
                            artefact.sha256)
        archive = self._archive(model, artefact)
        return Download(archive, TAR_MEDIA_TYPE, stem + ARCHIVE_SUFFIX, archive.stat().st_size, "")

    def _archive(self, model: ModelVersion, artefact: Artefact) -> Path:
        folder = self.archive_dir / model.id
        archive = folder / f"{artefact.format}-{artefact.sha256[:16]}{ARCHIVE_SUFFIX}"
        with self._archive_lock:
            if archive.is_file():
                return archive
            size, digest = tree_sha256(artefact.path)
            if digest != artefact.sha256:
                raise Conflict(f"model {model.id}'s '{artefact.format}' export at {artefact.path} has changed since it "
                               f"was recorded (sha256 {digest}, recorded {artefact.sha256}); register it again")
            files = tuple(sorted(p.relative_to(artefact.path).as_posix() for p in artefact.path.rglob("*")
                                 if p.is_file() and p.relative_to(artefact.path).as_posix() != MANIFEST))
            write_archive(ExportResult(format=artefact.format, path=artefact.path, files=files, bytes=size,
                                       sha256=digest), archive)
            for stale in folder.glob(f"{artefact.format}-*{ARCHIVE_SUFFIX}"):
                if stale != archive:    # an earlier recording of this export
                    stale.unlink(missing_ok=True)
        return archive

    # -- serving ----------------------------------------------------------------------
    def load(self, key: str) -> ModelVersion:
        """Load the version into the serving engine (again, when it is deployed): ``deployed``. Conflict with
        the reason when it cannot be served; the engine's refusal as it is."""
        with self._serving_lock:
            model = self.models.get(key)
            if model.status is ModelStatus.ARCHIVED:
                raise Conflict(f"model {model.id} ({model.ref}) is archived: an archived model cannot be loaded "
                               "(restore it to trained first)")
            expert, undo = self._prepare(model)
            try:
                self.serving.load(expert.name)
            except BaseException:
                undo()
                raise
            loaded = self.models.mark_loaded(model.id)
            for other in self._deployed():
                if other.id != model.id and self._expert_name(other) == expert.name:
                    self.models.mark_unloaded(other.id)     # the expert serves this version now
            return loaded

    def unload(self, key: str) -> ModelVersion:
        """Unload a deployed version: ``trained``. Conflict when it is not loaded."""
        with self._serving_lock:
            model = self.models.get(key)
            if model.status is not ModelStatus.DEPLOYED:
                raise Conflict(f"model {model.id} ({model.ref}) is {model.status.value}, not loaded")
            expert = self._serving_expert(model, _ExpertLookup(self.experts))
            if expert is not None:
                self.serving.unload(expert.name)
            return self.models.mark_unloaded(model.id)

    def _prepare(self, model: ModelVersion) -> tuple[Expert, Callable[[], None]]:
        """The expert that serves ``model`` once loaded, made so when it is a pipeline output, and what undoes
        that if the engine then refuses it (an expert created here is removed)."""
        source = model.source
        if source.expert_id is not None:
            try:
                expert = self.experts.get(source.expert_id)
            except ExpertNotFound:
                raise Conflict(f"model {model.id} ({model.ref}) mirrors expert {source.expert_id}, which has been "
                               "deleted") from None
            if expert.current_version != source.expert_version:
                raise Conflict(f"model {model.id} ({model.ref}) is version {source.expert_version} of expert "
                               f"'{expert.name}', which serves version {expert.current_version}: the serving engine "
                               f"serves an expert's current version only (load {expert.name}:"
                               f"{expert.current_version} instead)")
            return expert, _nothing
        if model.kind is not ModelKind.PIPELINE_OUTPUT:
            raise Conflict(f"model {model.id} ({model.ref}) is a {model.kind.value} without an expert version: the "
                           "serving engine serves experts only (expert versions, and pipeline outputs with an "
                           f"'{ONNX_ADAPTER}' export)")
        return self._expert_from_output(model)

    def _expert_from_output(self, model: ModelVersion) -> tuple[Expert, Callable[[], None]]:
        if model.artefact(ONNX_ADAPTER) is None:
            has = ", ".join(model.formats) or "none yet"
            raise Conflict(f"model {model.id} ({model.ref}) has no '{ONNX_ADAPTER}' export, which the serving engine "
                           f"needs (formats it has: {has}); export {ONNX_ADAPTER} to serve it")
        if not _EXPERT_NAME.fullmatch(model.name):
            raise Conflict(f"model {model.id} ({model.ref}): its name is not an expert name (letters, digits, '_' "
                           "and '-', at most 64), so it cannot be served under it")
        try:
            adapter = self.models.artefact(model.id, ONNX_ADAPTER).path
        except NotFound as missing:
            raise Conflict(str(missing)) from None
        try:
            expert = self.experts.get(model.name)
        except ExpertNotFound:
            expert = self.experts.create(model.name, domain=model.description[:200],
                                         config={"base_model": model.base_model} if model.base_model else {})
            try:
                return self._add_adapter(expert, model, adapter), lambda: self.experts.delete(expert.id, hard=True)
            except BaseException:
                self.experts.delete(expert.id, hard=True)
                raise
        current = expert.current
        if current is not None and current.config.get(FROM_MODEL) == model.id:
            return expert, _nothing
        if expert.status in ("training", "disabled"):
            raise Conflict(f"expert '{expert.name}' is {expert.status}: model {model.ref} cannot become its version "
                           "now")
        if current is not None and current.kind == "model":
            raise Conflict(f"expert '{expert.name}' is a model of its own, not an adapter on the shared base: "
                           f"model {model.ref}'s adapter cannot become its version")
        return self._add_adapter(expert, model, adapter), _nothing

    def _add_adapter(self, expert: Expert, model: ModelVersion, adapter: Path) -> Expert:
        """``model``'s adapter as the expert's new current version, ready to serve."""
        self.experts.add_version(expert.id, "adapter", adapter, config={FROM_MODEL: model.id, "model_ref": model.ref},
                                 metrics=model.metrics, note=f"from model {model.ref} ({model.id})")
        return self.experts.set_status(expert.id, "ready")

    def _deployed(self) -> list[ModelVersion]:
        page, _ = self.models.list(status=ModelStatus.DEPLOYED, limit=MAX_PAGE)
        return page

    def _expert_name(self, model: ModelVersion) -> str | None:
        """The name of the expert that serves ``model`` when it is loaded."""
        if model.source.expert_id is not None:
            try:
                return self.experts.get(model.source.expert_id).name
            except ExpertNotFound:
                return None
        return model.name if model.kind is ModelKind.PIPELINE_OUTPUT else None

    @staticmethod
    def _serving_expert(model: ModelVersion, lookup: _ExpertLookup) -> Expert | None:
        """The live expert whose current version is ``model``, if any."""
        if model.source.expert_id is not None:
            expert = lookup.get(model.source.expert_id)
            return expert if expert is not None and expert.current_version == model.source.expert_version else None
        if model.kind is ModelKind.PIPELINE_OUTPUT:
            expert = lookup.get(model.name)
            current = expert.current if expert is not None else None
            return expert if current is not None and current.config.get(FROM_MODEL) == model.id else None
        return None


def _nothing() -> None:
    """Nothing to undo."""


class _ExpertLookup:
    """Experts by id or name, each read once; None for one that does not exist (or was deleted)."""

    def __init__(self, experts: ExpertRegistry) -> None:
        self._experts = experts
        self._found: dict[int | str, Expert | None] = {}

    def get(self, key: int | str) -> Expert | None:
        if key not in self._found:
            try:
                self._found[key] = self._experts.get(key)
            except ExpertNotFound:
                self._found[key] = None
        return self._found[key]
