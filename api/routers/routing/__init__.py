"""The routing API under /api/routing: one router per part of the process."""

from fastapi import APIRouter

from api.routers.routing import setup

router = APIRouter()
for part in (setup,):
    router.include_router(part.router)
