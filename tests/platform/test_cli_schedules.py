"""`tempoline schedule ...` as a user runs it: the real CLI as a subprocess against the API on a
real port, Temporal Schedules on the dev server, the job workflows served in-process and a real
executor running what the schedules start (the stack of test_cli.py, one per test)."""

import asyncio
import json
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from cli.platform_common import when
from core.settings import Settings
from tests.platform.test_cli import Cli, platform
from tests.platform.test_end_to_end import ended
from tests.platform.test_schedules import jobs_of, until

pytestmark = pytest.mark.usefixtures("schedules_deleted")


async def test_create_list_show_pause_resume_trigger_backfill_delete(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
):
    async with platform(settings, temporal, admin_headers, tmp_path) as world:
        cli, api, alice = world.cli, world.api, world.alice

        async def schedule_of(schedule_id: str) -> dict[str, Any]:
            return (await api.get(f"/api/platform/schedules/{schedule_id}", headers=alice)).json()

        # Both schedules are created paused and resumed only once their jobs are counted: a run
        # of their own (the interval's fall on the epoch's 90-minute marks, one at midnight UTC)
        # would add a job to what the test counts. Triggers and backfills run paused or not.
        # A cron read in a time zone: prints the id alone on stdout, when it runs on stderr.
        weekdays = await cli(
            "schedule", "create", "--cron", "0 9 * * MON-FRI", "--timezone", "Europe/Berlin",
            "--name", "report", "--command", "echo", "report", "--paused",
        )  # fmt: skip
        assert weekdays.code == 0, weekdays.stderr
        cron_id = weekdays.stdout.strip()
        assert uuid.UUID(cron_id) and "cron 0 9 * * MON-FRI (Europe/Berlin), paused" in weekdays.stderr
        # An interval, with the job options `job run` takes and the schedule's own.
        hourly = await cli(
            "schedule", "create", "--every", "1h30m", "--overlap", "allow_all", "--catchup-window", "10m",
            "--name", "tick", "--label", "team=core", "--priority", "7", "--env", "GREETING=hi",
            "--secret-env", "TOKEN=s3cret", "--json", "--script", "echo $GREETING tick", "--paused",
        )  # fmt: skip
        assert hourly.code == 0, hourly.stderr
        created = json.loads(hourly.stdout)
        interval_id = created["id"]
        assert (created["interval_seconds"], created["overlap"], created["catchup_window_seconds"]) == (
            5400,
            "allow_all",
            600,
        )
        assert created["spec"]["labels"] == {"team": "core"} and created["spec"]["priority"] == 7
        assert created["spec"]["env"] == {"GREETING": "hi", "TOKEN": {"secret": True}}
        assert "s3cret" not in hourly.stdout

        listed = await cli("schedule", "list")
        assert listed.code == 0, listed.stderr
        for expected in (cron_id, interval_id, "cron 0 9 * * MON-FRI (Europe/Berlin)", "every 1h30m"):
            assert expected in listed.stdout
        assert [s["id"] for s in json.loads((await cli("schedule", "list", "--json")).stdout)["items"]] == [
            cron_id,
            interval_id,
        ]

        # Its next runs (once resumed) are the API's (Temporal's), each a weekday at 09:00 in Berlin.
        shown = await cli("schedule", "show", cron_id)
        assert shown.code == 0, shown.stderr
        next_runs = [datetime.fromisoformat(at) for at in (await schedule_of(cron_id))["next_runs"]]
        assert next_runs and all(when(at, "Europe/Berlin") in shown.stdout for at in next_runs)
        # In the schedule's time zone, as its cron reads: 09:00 there, whatever this machine's zone.
        assert len(re.findall(r" 09:00:00 CES?T\b", shown.stdout)) == len(next_runs)
        assert (
            "paused" in shown.stdout
            and "next runs (once resumed)" in shown.stdout
            and '["echo", "report"]' in shown.stdout
        )

        paused = await cli("schedule", "pause", interval_id, "--note", "quiet please")
        assert paused.code == 0 and f"schedule {interval_id} paused" in paused.stdout, paused.stderr
        assert (await schedule_of(interval_id))["paused"] is True
        assert "paused (quiet please)" in (await cli("schedule", "show", interval_id)).stdout

        # Trigger (paused): a job now, in `job list`, and in the schedule's recent runs with its status.
        triggered = await cli("schedule", "trigger", interval_id)
        assert triggered.code == 0 and "triggered" in triggered.stdout, triggered.stderr
        (job,) = await until(lambda: jobs_of(api, alice))
        assert (await ended(api, job["id"], alice))["status"] == "SUCCEEDED"
        jobs = json.loads((await cli("job", "list", "--json")).stdout)["items"]
        assert [(j["id"], j["name"], j["priority"]) for j in jobs] == [(job["id"], "tick", 7)]
        assert (await cli("job", "logs", job["id"])).stdout == "hi tick\n"
        recent = await cli("schedule", "show", interval_id)
        assert job["id"] in recent.stdout and "SUCCEEDED" in recent.stdout and "1 started" in recent.stdout

        # Backfill: one run for the one weekday 09:00 (Berlin) in the range, however long ago.
        backfilled = await cli(
            "schedule", "backfill", cron_id,
            "--start", "2025-01-06T08:30:00+01:00", "--end", "2025-01-06T09:30:00+01:00",
        )  # fmt: skip
        assert backfilled.code == 0 and "backfilling from" in backfilled.stdout, backfilled.stderr

        async def report_ran() -> list[dict[str, Any]]:
            return [j for j in await jobs_of(api, alice) if j["name"] == "report"]

        (report,) = await until(report_ran)
        assert (await ended(api, report["id"], alice))["status"] == "SUCCEEDED"
        runs = (await schedule_of(cron_id))["recent_runs"]
        assert [(r["scheduled_at"], r["job_id"]) for r in runs] == [("2025-01-06T08:00:00Z", report["id"])]

        resumed = await cli("schedule", "resume", interval_id)
        assert resumed.code == 0 and "resumed, next run" in resumed.stdout, resumed.stderr
        assert (await schedule_of(interval_id))["paused"] is False
        assert "active" in (await cli("schedule", "show", interval_id)).stdout

        # Deleted: gone, and saying so.
        for schedule_id in (cron_id, interval_id):
            deleted = await cli("schedule", "delete", schedule_id)
            assert deleted.code == 0 and f"schedule {schedule_id} deleted" in deleted.stdout, deleted.stderr
        gone = await cli("schedule", "show", cron_id)
        assert gone.code == 1 and "Schedule not found" in gone.stderr and "HTTP 404" in gone.stderr
        assert (await cli("schedule", "delete", cron_id)).code == 1
        assert json.loads((await cli("schedule", "list", "--json")).stdout)["items"] == []


async def test_bad_schedules_get_the_apis_reason_and_exit_code_2(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
):
    async with platform(settings, temporal, admin_headers, tmp_path, with_executor=False) as world:
        cli: Cli = world.cli
        job = ("--name", "bad", "--command", "true")
        refused_by_api = {
            ("--cron", "61 * * * *"): "cron: Value error, minute: 61 is out of range 0-59",
            (
                "--cron",
                "0 9 * * *",
                "--timezone",
                "Mars/Olympus_Mons",
            ): "timezone: Value error, 'Mars/Olympus_Mons' is not a known time zone",
            (): "interval_seconds: Value error, give exactly one of cron and interval_seconds"
            " (neither was given)",
            (
                "--cron",
                "@daily",
                "--every",
                "1h",
            ): "give exactly one of cron and interval_seconds (both were given)",
            ("--every", "0s"): "interval_seconds: Input should be greater than or equal to 1",
            (
                "--every",
                "1d",
                "--catchup-window",
                "1s",
            ): "catchup_window_seconds: Input should be greater than",
            ("--every", "1d", "--priority", "12"): "priority: Input should be less than or equal to 9",
        }
        # Side by side: each is its own process, and none changes what another sees.
        ran_all = await asyncio.gather(*(cli("schedule", "create", *args, *job) for args in refused_by_api))
        for (args, reason), ran in zip(refused_by_api.items(), ran_all, strict=True):
            assert ran.code == 2, (args, ran)
            assert "Invalid request" in ran.stderr and reason in ran.stderr, (args, ran.stderr)
            assert "Traceback" not in ran.stderr

        # What the command line itself cannot say is click's usage error, also 2.
        create = ("schedule", "create", "--every", "1h")
        refused_here = {
            ("schedule", "create", "--every", "soon", *job): "'soon' is not a duration",
            (*create, "--overlap", "sometimes", *job): "'sometimes' is not one of 'skip'",
            (*create, "--label", "novalue", *job): "'novalue' is not KEY=VALUE",
            (*create, "--name", "x", "--command", "sh", "-c", "exit 3"): "-c is no option of tempoline"
            " schedule create",
        }
        ran_all = await asyncio.gather(*(cli(*args) for args in refused_here))
        for (args, reason), ran in zip(refused_here.items(), ran_all, strict=True):
            assert ran.code == 2 and reason in ran.stderr, (args, ran.stderr)
        assert (await world.api.get("/api/platform/schedules", headers=world.alice)).json()["items"] == []

        once = ("schedule", "create", "--every", "1d", "--paused", "--idempotency-key", "nightly-1", *job)
        created = await cli(*once)
        assert created.code == 0 and "paused" in created.stderr, created.stderr
        schedule_id = created.stdout.strip()
        # A retried create with its key: the schedule the first one made, not a second.
        assert (await cli(*once)).stdout.strip() == schedule_id
        backfill = ("schedule", "backfill", schedule_id)
        backwards, unreadable, not_an_id, missing = await asyncio.gather(
            cli(*backfill, "--start", "2025-01-02T00:00Z", "--end", "2025-01-01T00:00Z"),
            cli(*backfill, "--start", "yesterday", "--end", "now"),
            cli("schedule", "pause", "not-a-uuid"),
            cli("schedule", "trigger", str(uuid.uuid4())),
        )
        assert backwards.code == 2 and "end_at must be after start_at" in backwards.stderr, backwards.stderr
        assert unreadable.code == 2 and "'yesterday' is not an ISO 8601 time" in unreadable.stderr
        assert not_an_id.code == 2
        assert missing.code == 1 and "Schedule not found" in missing.stderr
