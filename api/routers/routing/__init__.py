"""The routing API under /api/routing: one router per part of the process."""

from fastapi import APIRouter

from api.routers.routing import companies, connections, jobs, ops, routings, setup

router = APIRouter()
for part in (companies, setup, connections, jobs, routings, ops):
    router.include_router(part.router)
