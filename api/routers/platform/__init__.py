"""The platform API under /api/platform: jobs, workers, bootstrap tokens, cron schedules, the
tenant's settings, and the executors' own endpoints (platform-contract.md)."""

from fastapi import APIRouter

from api.routers.platform import executors, jobs, schedules, settings, streams, tokens, workers

router = APIRouter()
for part in (jobs, streams, workers, tokens, schedules, settings, executors):
    router.include_router(part.router)
