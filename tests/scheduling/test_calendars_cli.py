"""`tempoline calendars USER_ID` as a person runs it: the real CLI as a subprocess against the
API on a real port, for a user connected through the emulator, with sync state stored as the
sync workflow stores it."""

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.integration.live_api import serve
from tests.platform.api_world import member
from tests.platform.test_cli import Cli
from tests.scheduling.test_users_and_connect import connected


async def test_calendars_shows_each_calendars_sync_state_as_a_table_and_as_json(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    emulator: str,
    tmp_path: Path,
) -> None:
    async with serve(settings) as url, httpx.AsyncClient(base_url=url, timeout=30) as api:
        alice = await member(api, admin_headers, "alice")
        email = f"pat-{uuid.uuid4().hex[:8]}@example.com"
        user, _ = await connected(api, alice, settings, email)
        async with httpx.AsyncClient() as control:
            made = await control.post(
                f"{emulator}/_control/google/users/{email}/calendars",
                json={"summary": "Team [ops]", "time_zone": "Europe/Berlin"},
            )
        assert made.status_code == 200, made.text
        listed = (await api.get(f"/api/scheduling/users/{user['id']}/calendars", headers=alice)).json()
        team = next(c for c in listed if c["summary"] == "Team [ops]")
        synced_at = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
        with psycopg.connect(settings.database_url, autocommit=True) as conn:  # type: ignore[arg-type]
            conn.execute(
                "UPDATE calendars SET selected = true, sync_status = 'error', last_success_at = %s,"
                " events_count = 1234, last_error = 'Google answered 403 quotaExceeded' WHERE id = %s",
                (synced_at, team["id"]),
            )

        env = {**os.environ, "TEMPOLINE_API_URL": url, "COLUMNS": "250", "TZ": "UTC"}
        cli = Cli(env, tmp_path).with_key(alice["Authorization"].removeprefix("Bearer "))
        shown = await cli("calendars", user["id"])
        assert shown.code == 0, shown.stderr
        header, *rows = [line for line in shown.stdout.splitlines() if line.strip()]
        assert header.split() == [
            "ID",
            "CALENDAR",
            "TIME",
            "ZONE",
            "SYNCED",
            "STATUS",
            "LAST",
            "SUCCESS",
            "EVENTS",
            "LAST",
            "ERROR",
        ]
        [team_row] = [r for r in rows if team["id"] in r]
        # A name with brackets is shown as it is (not read as rich markup).
        for text in (
            "Team [ops]",
            "Europe/Berlin",
            "yes",
            "error",
            "2026-11-30 09:15:00",
            "1234",
            "403 quotaExceeded",
        ):
            assert text in team_row, (text, team_row)
        [primary_row] = [r for r in rows if email in r]
        assert " no " in primary_row and " idle " in primary_row

        as_json = await cli("calendars", user["id"], "--json")
        assert as_json.code == 0, as_json.stderr
        by_id = {c["id"]: c for c in json.loads(as_json.stdout)}
        assert by_id[team["id"]] == {
            **team,
            "selected": True,
            "sync_status": "error",
            "last_success_at": "2026-11-30T09:15:00Z",
            "events_count": 1234,
            "last_error": "Google answered 403 quotaExceeded",
        }

        # Another tenant's key: not found, exit code 1, the API's reason on stderr.
        bob = await member(api, admin_headers, "bob")
        refused = await cli.with_key(bob["Authorization"].removeprefix("Bearer "))("calendars", user["id"])
        assert refused.code == 1 and "User not found" in refused.stderr and refused.stdout == ""
        # Not a uuid: a usage error.
        assert (await cli("calendars", "nope")).code == 2
