"""The interview pipeline's Prometheus metrics, recorded by its activities through the worker's
Temporal runtime (one endpoint with the SDK's own metrics). Names and labels are documented in
docs/interviews.md#metrics; the alert rules (infra/prometheus/rules/interviews.yml) and the
dashboard (infra/grafana/dashboards/interviews.json) read them.

Labels stay few-valued: stage, provider, model, outcome, reason, kind and status, plus the
namespace, task_queue and activity_type the SDK adds. Never an interview's or a tenant's id.

A provider activity takes `@measured(Stage.X)` under its `@activity.defn`: each attempt's
duration is recorded by outcome, and a failed attempt is counted by reason.
"""

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Protocol, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from clients.refusals import ProviderRefused
from domain.interviews.scorecard import Refused

STAGE_DURATION = "tempoline_interview_stage_duration_seconds"
STAGE_ERRORS = "tempoline_interview_stage_errors_total"
LLM_TOKENS = "tempoline_llm_tokens_total"
FINISHED = "tempoline_interviews_finished_total"
# Prometheus buckets for STAGE_DURATION, in seconds (the SDK's defaults, 50 to 10000, are meant
# for milliseconds): an analysis takes seconds, a transcription up to its hour's timeout.
STAGE_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0)


class Stage(StrEnum):
    TRANSCRIPTION = "transcription"
    ANALYSIS = "analysis"


def reason(error: BaseException) -> str:
    """Why an attempt failed, in a word alerts can select on. A provider's refusal and a model's
    unusable answer are found behind the ApplicationError they were turned into (`raise ... from
    None` keeps them as its context); otherwise the ApplicationError's type, in snake case
    (`NoSpeech`: `no_speech`); anything else is `internal` (our side: the store, a bug)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ProviderRefused):
            return seen.kind
        if isinstance(seen, Refused):
            return seen.kind
        seen = seen.__cause__ or seen.__context__
    if isinstance(error, ApplicationError) and error.type:
        return "".join(f"_{c.lower()}" if c.isupper() else c for c in error.type).lstrip("_")
    return "internal"


@contextmanager
def measuring(stage: Stage, provider: str) -> Iterator[None]:
    """Records the block's duration under `outcome` ok, error or cancelled (a cancel is the
    workflow's or the worker's decision, not the provider's failure), and counts an error by
    reason."""
    meter = activity.metric_meter()
    labels = {"stage": stage.value, "provider": provider}
    started = time.monotonic()
    outcome = "error"
    try:
        yield
        outcome = "ok"
    except asyncio.CancelledError:
        outcome = "cancelled"
        raise
    except Exception as error:
        meter.create_counter(STAGE_ERRORS, "Failed attempts of an interview stage, by reason").add(
            1, {**labels, "reason": reason(error)}
        )
        raise
    finally:
        meter.create_histogram_float(
            STAGE_DURATION, "Time an attempt of an interview stage took, by outcome", "seconds"
        ).record(time.monotonic() - started, {**labels, "outcome": outcome})


class _Request(Protocol):
    @property
    def provider(self) -> str: ...


S = TypeVar("S")
R = TypeVar("R", bound=_Request)
T = TypeVar("T")


def measured(
    stage: Stage,
) -> Callable[[Callable[[S, R], Awaitable[T]]], Callable[[S, R], Awaitable[T]]]:
    """An async activity method, measured (`measuring`) under its request's provider."""

    def decorate(method: Callable[[S, R], Awaitable[T]]) -> Callable[[S, R], Awaitable[T]]:
        # wraps keeps the signature and type hints Temporal reads the request's type from.
        @functools.wraps(method)
        async def measured_method(self: S, request: R) -> T:
            with measuring(stage, request.provider):
                return await method(self, request)

        return measured_method

    return decorate


def tokens(provider: str, model: str, input_tokens: int | None, output_tokens: int | None) -> None:
    """Tokens a model counted for a call (spent whether or not its answer is then usable)."""
    counter = activity.metric_meter().create_counter(LLM_TOKENS, "Tokens of analysis calls, by kind")
    for kind, count in (("input", input_tokens), ("output", output_tokens)):
        if count:
            counter.add(count, {"provider": provider, "model": model, "kind": kind})


def finished(status: str) -> None:
    """An interview's processing run ended: analyzed, failed or analysis_failed (a reanalyze is
    a run of its own)."""
    activity.metric_meter().create_counter(FINISHED, "Interview processing runs ended, by status").add(
        1, {"status": status}
    )
