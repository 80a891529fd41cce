"""The calendar sync workflow's calls to our own store (local activities)."""

from datetime import UTC, datetime

from sqlalchemy import update
from temporalio import activity

from activities.dependencies import Dependencies
from activities.google_calendar import metrics
from domain.scheduling.sync import SyncFailure, SyncStatus
from store.scheduling import Calendar


class SchedulingStore:
    def __init__(self, deps: Dependencies) -> None:
        self._db = deps.database

    @activity.defn(name="scheduling.record_status")
    async def record_status(self, record: SyncFailure) -> None:
        """A sync that failed for good or waits for the user, or a workflow that ended
        (deselected, disconnected, cancelled in Temporal): shown with the calendar."""
        if record.status is not SyncStatus.STOPPED:
            metrics.result(record.status.value)
        async with self._db.transaction() as session:
            await session.execute(
                update(Calendar)
                .where(Calendar.id == record.calendar_id)
                .values(
                    sync_status=record.status, last_error=record.error[:500], last_error_at=datetime.now(UTC)
                )
            )
