"""The worker killed with SIGKILL in the middle of a 50,000-event full sync: a worker started
after it resumes at the first page not stored, and the store ends up with exactly the calendar's
events."""

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.conftest import free_port
from tests.integration.routing_world import eventually
from tests.scheduling.google_world import stored_events
from tests.scheduling.test_sync import synced_user
from tests.worker_process import StartWorker, worker_processes

EVENTS = 50_000
PAGES = EVENTS // 2500


@pytest.fixture
def start_worker(settings: Settings, temporal: WorkflowEnvironment, tmp_path: Path) -> Iterator[StartWorker]:
    with worker_processes(settings, tmp_path, "scheduling") as start:
        yield start


def _progress(settings: Settings, calendar_id: str) -> tuple[int, str | None]:
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        [(stored, cursor)] = conn.execute(
            "SELECT (SELECT count(*) FROM calendar_events WHERE calendar_id = %s), page_token"
            " FROM calendars WHERE id = %s",
            (calendar_id, calendar_id),
        ).fetchall()
    return int(stored), cursor


async def test_a_worker_killed_mid_sync_leaves_exactly_the_calendars_events(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    start_worker: StartWorker,
) -> None:
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Huge")
    await pat.google.bulk(google_id, EVENTS)
    worker = start_worker()
    await pat.choose(google_id)

    async def some_pages_stored() -> bool:
        stored, cursor = _progress(settings, pat.calendar["id"])
        return cursor is not None and 5 * 2500 <= stored < EVENTS - 2 * 2500

    await eventually(some_pages_stored, 120, "some pages of the full sync stored")
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    stored_at_kill, _ = _progress(settings, pat.calendar["id"])
    lists_at_kill = await pat.google.calls("events.list")
    metrics_port = free_port()
    start_worker(metrics_port)
    result = await pat.sync()
    assert result["status"] == "ok", result
    events = await pat.google.events(google_id)
    assert set(stored_events(settings, pat.calendar["id"])) == {e["id"] for e in events}
    assert (await pat.state())["events_count"] == EVENTS
    # Resumed at the cursor: the pages left (and the one in flight at the kill), then the
    # update's incremental sync, not the calendar again from its first page.
    left = PAGES - stored_at_kill // 2500
    assert await pat.google.calls("events.list") - lists_at_kill <= left + 2
    # What the sync did, on the worker's Prometheus endpoint.
    metrics = (await pat.google.http.get(f"http://127.0.0.1:{metrics_port}/metrics")).text
    lines = [line for line in metrics.splitlines() if line.startswith("scheduling_")]
    for name, label in (
        ("scheduling_calendar_sync_total", 'result="ok"'),
        ("scheduling_calendar_sync_duration_seconds_bucket", 'le="+Inf"'),
        ("scheduling_calendar_events_processed_total", ""),
        ("scheduling_calendar_api_calls_total", 'operation="events.list"'),
    ):
        assert any(line.startswith(name + "{") and label in line for line in lines), (name, lines)
