"""The scheduling API under /api/scheduling (issue #14): users, connecting their
Google account, their calendars and each one's sync, events, free/busy."""

from fastapi import APIRouter

from api.routers.scheduling import calendars, event_writes, events, freebusy, google, syncs, users

router = APIRouter()
for part in (users, google, calendars, syncs, events, event_writes, freebusy):
    router.include_router(part.router)
