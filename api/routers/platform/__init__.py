"""The platform API under /api/platform: jobs, workers, bootstrap tokens, cron schedules, and the
executors' own endpoints (platform-contract.md)."""

from fastapi import APIRouter

from api.routers.platform import executors, jobs, schedules, streams, tokens, workers

router = APIRouter()
for part in (jobs, streams, workers, tokens, schedules, executors):
    router.include_router(part.router)
