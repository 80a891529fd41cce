"""The scheduling API under /api/scheduling (issue #14, being built): users, and connecting
their Google account."""

from fastapi import APIRouter

from api.routers.scheduling import calendars, google, users

router = APIRouter()
for part in (users, google, calendars):
    router.include_router(part.router)
