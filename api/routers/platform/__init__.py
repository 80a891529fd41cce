"""The platform API under /api/platform: jobs, workers, bootstrap tokens, and the executors' own
endpoints (platform-contract.md)."""

from fastapi import APIRouter

from api.routers.platform import executors, jobs, streams, tokens, workers

router = APIRouter()
for part in (jobs, streams, workers, tokens, executors):
    router.include_router(part.router)
