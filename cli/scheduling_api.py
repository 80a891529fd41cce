"""A person's client for /api/scheduling, what the `tempoline calendars` command sends."""

import uuid

from api.routers.scheduling.calendars import CalendarOut
from cli.api_client import ApiClient


class SchedulingApi(ApiClient):
    prefix = "/api/scheduling"

    async def list_calendars(self, user_id: uuid.UUID) -> list[CalendarOut]:
        """The user's calendars as Google lists them now, each with its sync state."""
        return await self._call("GET", f"/users/{user_id}/calendars", list[CalendarOut])
