"""The interviews API under /api/interviews (issue #15, being built): candidates, interviews with
their rubric, and the upload of their recordings."""

from fastapi import APIRouter

from api.routers.interviews import candidates, interviews, recordings

router = APIRouter()
# Candidates first: /api/interviews/candidates is not an interview's id.
for part in (candidates, interviews, recordings):
    router.include_router(part.router)
