"""The interviews API under /api/interviews (issue #15): candidates, interviews with
their rubric, the upload of their recordings (which starts their processing), and what the
processing made: the transcript and the scorecard; the processing's progress and its cancel;
webhooks that announce what happened."""

from fastapi import APIRouter

from api.routers.interviews import (
    candidates,
    interviews,
    processing,
    recordings,
    results,
    settings,
    webhooks,
)

router = APIRouter()
# Candidates, settings and webhooks first: /api/interviews/candidates is not an interview's id.
for part in (candidates, settings, webhooks, interviews, recordings, results, processing):
    router.include_router(part.router)
