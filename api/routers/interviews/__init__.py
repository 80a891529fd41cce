"""The interviews API under /api/interviews (issue #15, being built): candidates, interviews with
their rubric, the upload of their recordings (which starts their processing), and what the
processing made: the transcript and the scorecard; webhooks that announce what happened."""

from fastapi import APIRouter

from api.routers.interviews import candidates, interviews, recordings, results, webhooks

router = APIRouter()
# Candidates and webhooks first: /api/interviews/candidates is not an interview's id.
for part in (candidates, webhooks, interviews, recordings, results):
    router.include_router(part.router)
