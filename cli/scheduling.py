"""`tempoline calendars USER_ID`: a user's Google calendars and the sync state of each, through
the API (which reads the calendar list from Google: a user who must connect again is told so,
exit code 1)."""

import json
import uuid
from typing import Annotated

import typer
from rich.markup import escape

from cli.platform_common import ApiKey, ApiUrl, AsJson, call_client, out, table_of, when
from cli.scheduling_api import SchedulingApi

COLUMNS = ("ID", "CALENDAR", "TIME ZONE", "SYNCED", "STATUS", "LAST SUCCESS", "EVENTS", "LAST ERROR")


def calendars(
    user_id: Annotated[
        uuid.UUID, typer.Argument(metavar="USER_ID", help="The scheduling user's id", show_default=False)
    ],
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """A user's calendars: whether each is synced, its sync status, last success and error, and
    how many events are stored."""

    async def work(api: SchedulingApi) -> None:
        found = await api.list_calendars(user_id)
        if as_json:
            print(json.dumps([c.model_dump(mode="json") for c in found], indent=2))
            return
        rows = table_of(*COLUMNS)
        for calendar in found:
            rows.add_row(
                str(calendar.id),
                escape(calendar.summary),
                calendar.time_zone,
                "yes" if calendar.selected else "no",
                calendar.sync_status,
                when(calendar.last_success_at),
                str(calendar.events_count),
                escape(calendar.last_error or ""),
            )
        out.print(rows)

    call_client(api_url, api_key, SchedulingApi, work)
