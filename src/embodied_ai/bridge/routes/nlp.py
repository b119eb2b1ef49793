"""Seed 002's NLP service: ``POST /v1/ai/nlp/analyze`` and ``POST /v1/ai/nlp/summarize``.

The analyses (``embodied_ai.nlp``) run in this bridge process, in a worker thread (``run_in_threadpool``) so the
event loop stays free: they are light lexicon and regex work on at most 100 000 characters, with no model to
serve, so they need no node of their own. ``method: expert`` summaries go through the inference port like
``/v1/ai/llm/generate`` (503 when no experts node runs); that summary is cut to ``max_length`` words, while
``min_length`` is only asked of the expert in its prompt."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from embodied_ai.bridge.errors import error_responses
from embodied_ai.bridge.events import EventHub
from embodied_ai.bridge.metrics import BridgeMetrics
from embodied_ai.bridge.ports.inference import GenerateRequest, InferencePort
from embodied_ai.bridge.routes import deps
from embodied_ai.bridge.routes.ai_llm import expert_of, request_id, run
from embodied_ai.bridge.schemas.common import Envelope, ok
from embodied_ai.bridge.schemas.nlp import (
    AnalyzeBody,
    EntityResult,
    KeywordResult,
    LanguageResult,
    SentimentResult,
    SummarizeBody,
    SummaryResult,
    TextAnalysisResult,
)
from embodied_ai.bridge.security import authorize
from embodied_ai.nlp import (
    Summary,
    TextAnalysis,
    analyze_text,
    check_summary_request,
    fit_to_length,
    summarize_extractive,
    summary_of,
)

router = APIRouter(prefix=f"{deps.API_PREFIX}/ai/nlp", tags=["ai-nlp"], dependencies=[Depends(authorize)],
                   responses=error_responses(400, 401, 404, 413, 429, 503, 504))
Inference = Annotated[InferencePort, Depends(deps.inference)]
Metrics = Annotated[BridgeMetrics, Depends(deps.metrics)]
Hub = Annotated[EventHub, Depends(deps.hub)]
TOKENS_PER_WORD = 2   # the expert's token budget for a summary of max_length words


def analysis_result(analysis: TextAnalysis) -> TextAnalysisResult:
    return TextAnalysisResult(
        request_id=request_id(), text_length=analysis.text_length, detected_language=analysis.detected_language,
        sentiment=None if analysis.sentiment is None else SentimentResult(**vars(analysis.sentiment)),
        entities=None if analysis.entities is None else [EntityResult(**vars(e)) for e in analysis.entities],
        keywords=None if analysis.keywords is None else [KeywordResult(**vars(k)) for k in analysis.keywords],
        language=None if analysis.language is None else LanguageResult(**vars(analysis.language)))


def summary_prompt(body: SummarizeBody) -> str:
    return (f"Summarize the following text in {body.min_length} to {body.max_length} words. "
            f"Answer with the summary only.\n\n{body.text}")


def summary_result(summary: Summary, body: SummarizeBody, model: str) -> SummaryResult:
    return SummaryResult(request_id=request_id(), original_length=summary.original_length, summary=summary.summary,
                         summary_length=summary.summary_length, compression_ratio=summary.compression_ratio,
                         method=body.method, model=model)


@router.post("/analyze", summary="Sentiment, entities, keywords and language of a text (seed 002)")
async def analyze(body: AnalyzeBody) -> Envelope[TextAnalysisResult]:
    analysis = await run_in_threadpool(analyze_text, body.text, body.analysis_types, body.language,
                                       body.max_keywords)
    return ok(analysis_result(analysis))


@router.post("/summarize", summary="Summarise a text: its own sentences, or an expert's words (seed 002)")
async def summarize(body: SummarizeBody, inference: Inference, metrics: Metrics,
                    hub: Hub) -> Envelope[SummaryResult]:
    if body.method == "extractive":
        summary = await run_in_threadpool(summarize_extractive, body.text, body.max_length, body.min_length)
        return ok(summary_result(summary, body, "extractive"))
    check_summary_request(body.text, body.max_length, body.min_length)
    outcome = await run(GenerateRequest(prompt=summary_prompt(body), expert=expert_of(body.model),
                                        max_tokens=body.max_length * TOKENS_PER_WORD, temperature=0.0),
                        inference, metrics, hub)
    summary = summary_of(body.text, fit_to_length(outcome.text.strip(), body.max_length))
    return ok(summary_result(summary, body, outcome.expert))
