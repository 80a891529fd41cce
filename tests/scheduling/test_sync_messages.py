"""The calendar's workflow and its messages: state carried across continue-as-new, waits that
end when the workflow does, requests refused while a stop is pending, and Temporal's own cancel
recorded on the calendar."""

import asyncio
import uuid
from typing import Any

import httpx
import psycopg
import pytest
from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
)
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from domain.scheduling.sync import (
    CALENDAR_SYNC_WORKFLOW,
    TASK_QUEUE,
    CalendarSyncState,
    Progress,
    Signals,
    SyncAsk,
    SyncResult,
    Updates,
    workflow_id,
)
from tests.scheduling.test_sync import Synced, synced_user


async def started(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    client: Client,
    **state: Any,
) -> tuple[Synced, WorkflowHandle[Any, Any]]:
    """A calendar chosen in the store and its workflow started here, with `state`."""
    pat = await synced_user(api, admin_headers, settings, emulator)
    google_id = await pat.google.calendar("Messages")
    await pat.google.bulk(google_id, 5)
    listed = (await api.get(f"/api/scheduling/users/{pat.user['id']}/calendars", headers=pat.headers)).json()
    [pat.calendar] = [c for c in listed if c["google_calendar_id"] == google_id]
    pat.google_id = google_id
    calendar_id = uuid.UUID(pat.calendar["id"])
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        conn.execute("UPDATE calendars SET selected = true WHERE id = %s", (calendar_id,))
    initial = CalendarSyncState(
        calendar_id=calendar_id,
        tenant_id=_tenant(settings, calendar_id),
        user_id=uuid.UUID(pat.user["id"]),
        **state,
    )
    handle = await client.start_workflow(
        CALENDAR_SYNC_WORKFLOW, initial, id=workflow_id(calendar_id), task_queue=TASK_QUEUE
    )
    return pat, handle


def _tenant(settings: Settings, calendar_id: uuid.UUID) -> uuid.UUID:
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        [(tenant,)] = conn.execute("SELECT tenant_id FROM calendars WHERE id = %s", (calendar_id,)).fetchall()
    return uuid.UUID(str(tenant))


async def test_state_set_by_messages_is_carried_across_continue_as_new(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    temporal: WorkflowEnvironment,
    scheduling: None,
) -> None:
    pat, handle = await started(api, admin_headers, settings, emulator, temporal.client, syncs_per_run=2)
    first_run = (await handle.describe()).run_id
    results = [await handle.execute_update(Updates.SYNC, SyncAsk(), result_type=SyncResult) for _ in range(5)]
    assert [r.status for r in results] == ["ok"] * 5
    assert results[0].outcome and results[0].outcome.mode == "full"
    assert all(r.outcome and r.outcome.mode == "incremental" for r in results[1:])
    latest = temporal.client.get_workflow_handle(workflow_id(uuid.UUID(pat.calendar["id"])))
    assert (await latest.describe()).run_id != first_run
    # The runs after the first answer requests as the first did: a notification, then a full resync.
    await latest.signal(Signals.NOTIFIED)
    full = await latest.execute_update(Updates.SYNC, SyncAsk(full=True), result_type=SyncResult)
    assert full.outcome and full.outcome.mode == "full" and full.outcome.events == 5
    progress = await latest.query("progress", result_type=Progress)
    assert progress.status == "ok" and not progress.pending and progress.last == full
    history = [e async for e in latest.fetch_history_events()]
    assert len(history) < 60


async def test_waits_end_with_the_workflow_and_a_pending_stop_refuses_syncs(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    temporal: WorkflowEnvironment,
    scheduling: None,
) -> None:
    pat, handle = await started(api, admin_headers, settings, emulator, temporal.client)
    assert (await handle.execute_update(Updates.SYNC, SyncAsk(), result_type=SyncResult)).status == "ok"
    # A slow listing keeps the next sync in flight while the stop comes in.
    slow = {"provider": "google", "method": "GET", "path": "/events$", "delay": 2, "count": 1}
    (await pat.google.http.post(f"{emulator}/_control/faults", json=slow)).raise_for_status()
    waiting = await handle.start_update(
        Updates.SYNC, SyncAsk(), wait_for_stage=WorkflowUpdateStage.ACCEPTED, result_type=SyncResult
    )
    stopping = await handle.start_update(
        Updates.STOP, wait_for_stage=WorkflowUpdateStage.ACCEPTED, result_type=SyncResult
    )
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(Updates.SYNC, SyncAsk(), result_type=SyncResult)
    assert "stopping" in str(refused.value.cause)
    async with asyncio.timeout(20):
        answered = await waiting.result()
        ended = await stopping.result()
    assert answered.status in ("ok", "stopped") and ended.status == "stopped"
    assert SyncResult.model_validate(await handle.result()) == ended


async def test_temporals_own_cancel_is_recorded_on_the_calendar(
    api: httpx.AsyncClient,
    admin_headers: dict[str, str],
    settings: Settings,
    emulator: str,
    temporal: WorkflowEnvironment,
    scheduling: None,
) -> None:
    pat, handle = await started(api, admin_headers, settings, emulator, temporal.client)
    assert (await handle.execute_update(Updates.SYNC, SyncAsk(), result_type=SyncResult)).status == "ok"
    await handle.cancel()
    with pytest.raises(WorkflowFailureError):
        await handle.result()
    state = (
        await api.get(
            f"/api/scheduling/users/{pat.user['id']}/calendars/{pat.calendar['id']}", headers=pat.headers
        )
    ).json()
    assert state["sync_status"] == "stopped" and "cancelled" in state["last_error"]
