"""Models API (seeds 004, 002 and 001) over the jobs node's model registry, and OpenAI's model list.

``GET /v1/models`` is one handler for both kinds of client (see ``schemas.models``): the
unfiltered first page starts with the names chat completions accept (``auto`` and each expert
the router knows, unless a servable registry version of that name is on the page), then the
registry's versions, which the filters and paging apply to. While the jobs node is away the
names are still listed (chat clients keep working), with ``registry_available: false``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, PlainTextResponse

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.ports.inference import InferencePort
from embodied_ai.bridge.ports.models import ModelFilter, ModelsPort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.paging import paginate
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.models import (
    LoadRequest,
    ModelCard,
    ModelCatalog,
    ModelDetail,
    ModelLoaded,
    ModelMetrics,
    ModelPerformance,
    RegistryModel,
    ServedModel,
    model_detail,
    model_loaded,
    model_metrics,
    model_performance,
    registry_model,
)
from embodied_ai.bridge.schemas.openai import ROUTER_MODEL
from embodied_ai.bridge.security import authorize
from embodied_ai.database import MAX_PAGE
from embodied_ai.errors import GraphUnavailable, InvalidRequest

router = APIRouter(prefix=deps.API_PREFIX, tags=["models"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 409, 429, 503, 504))
Models = Annotated[ModelsPort, Depends(deps.models)]
Inference = Annotated[InferencePort, Depends(deps.inference)]
ModelKey = Annotated[str, Path(min_length=1, max_length=200, description="id (mdl_...), name:N, or a name (its "
                                                                          "newest version)")]
DEFAULT_LIMIT = 20        # seed 004's
MARKDOWN = "text/markdown"


def _paging(limit: int | None, offset: int | None, page: int | None, per_page: int | None) -> tuple[int, int]:
    """limit/offset (seed 004), or page/per_page (seed 001)."""
    if (page is not None or per_page is not None) and (limit is not None or offset is not None):
        raise InvalidRequest("invalid paging", ["give limit/offset or page/per_page, not both"])
    if page is not None or per_page is not None:
        size = per_page or DEFAULT_LIMIT
        return size, ((page or 1) - 1) * size
    return limit or DEFAULT_LIMIT, offset or 0


@router.get("/models", summary="Models: OpenAI's list of served names, and the registry's versions",
            response_model=ModelCatalog)
async def list_models(
    request: Request, response: Response, models: Models, inference: Inference,
    kind: Annotated[str | None, Query(max_length=32, description="expert_adapter | expert_model | pipeline_output "
                                                                 "| policy | detector")] = None,
    status: Annotated[str | None, Query(max_length=32, description="trained | deployed | archived")] = None,
    name: Annotated[str | None, Query(max_length=64)] = None,
    base_model: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int | None, Query(ge=1, le=MAX_PAGE, description="default 20")] = None,
    offset: Annotated[int | None, Query(ge=0)] = None,
    page: Annotated[int | None, Query(ge=1, description="seed 001's paging, from 1")] = None,
    per_page: Annotated[int | None, Query(ge=1, le=MAX_PAGE)] = None,
) -> ModelCatalog:
    size, start = _paging(limit, offset, page, per_page)
    filters = ModelFilter(kind=kind, status=status, name=name, base_model=base_model)
    first_page = start == 0 and filters == ModelFilter()
    try:
        views, total = await models.list_models(filters, size, start)
        available = True
    except GraphUnavailable:
        if not first_page:
            raise
        views, total, available = [], 0, False
    items: list[RegistryModel | ServedModel] = [registry_model(view) for view in views]
    if first_page:
        try:
            experts = inference.router_statistics().experts
        except GraphUnavailable:
            if not available:
                raise
            experts = []
        else:
            created = int(request.app.state.started_at_wall)
            shown = {item.id for item in items if item.servable}
            items = [ServedModel(id=name, created=created) for name in [ROUTER_MODEL, *experts] if name not in shown] \
                + items
    paging = paginate(request, response, size, start, len(views), total, replaced=("page", "per_page"))
    return ModelCatalog(data=items, total=total, limit=size, offset=start, has_more=paging.has_more,
                        registry_available=available)


@router.get("/models/{model}", summary="A model version: seed 004's details (and OpenAI's model fields)",
            response_model=ModelDetail)
async def get_model(model: ModelKey, models: Models) -> ModelDetail:
    return model_detail(await models.get(model))


@router.get("/models/{model}/card", summary="A model version's card (Markdown; Accept: text/markdown for it alone)",
            response_model=Envelope[ModelCard], responses={200: {"content": {MARKDOWN: {}}}})
async def model_card(model: ModelKey, models: Models,
                     accept: Annotated[str, Header()] = "") -> Envelope[ModelCard] | PlainTextResponse:
    card = ModelCard(**await models.card(model))
    if MARKDOWN in accept.lower():
        return PlainTextResponse(card.card, media_type=f"{MARKDOWN}; charset=utf-8")
    return ok(card)


@router.get("/models/{model}/download", summary="Download an export: its file, or a folder's files as a tar",
            response_class=FileResponse,
            responses={200: {"content": {"application/octet-stream": {}, "application/x-tar": {}}}})
async def download_model(
    model: ModelKey, models: Models,
    format: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{0,31}$", description=(
        "adapter, merged, gguf, onnx_adapter, onnx_model, ...: one the version has (its exports); "
        "optional when it has one"))] = None,
) -> FileResponse:
    if format is None:
        formats = list((await models.get(model))["exports"])
        if len(formats) != 1:
            raise InvalidRequest("which export? give format", [
                f"format: required; formats model {model} has: {', '.join(formats) or 'none yet'}"])
        format = formats[0]
    artefact = await models.artefact(model, format)
    headers = {"X-Artefact-SHA256": artefact.sha256} if artefact.sha256 else None
    return FileResponse(artefact.path, media_type=artefact.media_type, filename=artefact.filename, headers=headers)


@router.get("/models/{model}/metrics", summary="Serving figures as a time series (seed 001)")
async def model_metrics_series(
    model: ModelKey, models: Models,
    start_time: Annotated[str | None, Query(max_length=64, description="ISO-8601 with a time zone; default: 60 "
                                                                        "intervals before end_time")] = None,
    end_time: Annotated[str | None, Query(max_length=64, description="ISO-8601 with a time zone; default now")] = None,
    interval: Annotated[str, Query(pattern=r"^(1m|5m|1h)$")] = "1m",
) -> Envelope[ModelMetrics]:
    return ok(model_metrics(await models.metrics(model, start_time, end_time, interval)))


@router.get("/models/{model}/performance", summary="Serving performance over the last 7 days (seed 002)")
async def model_performance_figures(model: ModelKey, models: Models) -> Envelope[ModelPerformance]:
    return ok(model_performance(await models.performance(model)))


@router.post("/models/{model}/load", summary="Load a model version into the serving engine (status deployed)")
async def load_model(model: ModelKey, models: Models,
                     body: Annotated[LoadRequest | None, Body()] = None) -> Envelope[ModelLoaded]:
    return ok(model_loaded(await models.set_loaded(model, True), loaded=True))


@router.post("/models/{model}/unload", summary="Unload a model version from the serving engine (status trained)")
async def unload_model(model: ModelKey, models: Models) -> Envelope[ModelLoaded]:
    return ok(model_loaded(await models.set_loaded(model, False), loaded=False))
