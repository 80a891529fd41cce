"""The job lifecycle: every allowed move, and the moves refused."""

from datetime import UTC, datetime, timedelta

import pytest

from domain.platform.status import (
    EVENT,
    TERMINAL,
    AuditEvent,
    InvalidTransition,
    JobStatus,
    WorkerStatus,
    can_move,
    transition,
    worker_status,
)

S = JobStatus


@pytest.mark.parametrize(
    "path",
    [
        [S.PENDING, S.SCHEDULED, S.RUNNING, S.SUCCEEDED],
        [S.PENDING, S.SCHEDULED, S.RUNNING, S.RETRYING, S.PENDING, S.SCHEDULED, S.RUNNING, S.FAILED],
        [S.PENDING, S.TIMED_OUT],
        [S.PENDING, S.CANCELLED],
        [S.PENDING, S.SCHEDULED, S.RETRYING, S.CANCELLED],
        [S.PENDING, S.SCHEDULED, S.RUNNING, S.TIMED_OUT, S.RETRYING, S.PENDING],
        [S.PENDING, S.SCHEDULED, S.RUNNING, S.FAILED, S.RETRYING],
    ],
)
def test_lifecycle_paths(path: list[JobStatus]) -> None:
    status = path[0]
    for nxt in path[1:]:
        status = transition(status, nxt)
    assert status is path[-1]


def test_terminal_jobs_stay_terminal_except_a_retry_of_a_failure() -> None:
    for end in TERMINAL:
        for to in JobStatus:
            if to is S.RETRYING and end in (S.FAILED, S.TIMED_OUT):
                assert can_move(end, to)
            else:
                with pytest.raises(InvalidTransition):
                    transition(end, to)


def test_success_needs_a_started_process() -> None:
    assert not can_move(S.SCHEDULED, S.SUCCEEDED)
    assert not can_move(S.PENDING, S.RUNNING)


def test_every_status_but_pending_has_its_event() -> None:
    assert set(EVENT) == set(JobStatus) - {S.PENDING}
    assert set(EVENT.values()) == set(AuditEvent) - {AuditEvent.CREATED}


NOW = datetime(2026, 1, 1, tzinfo=UTC)


def status(**overrides: object) -> WorkerStatus:
    fields: dict[str, object] = {
        "now": NOW,
        "heartbeat_at": NOW,
        "offline_after": timedelta(seconds=30),
        "lost": False,
        "gone": False,
        "draining": False,
        "running": 0,
        "slots": 2,
    }
    return worker_status(**{**fields, **overrides})  # type: ignore[arg-type]


def test_worker_status() -> None:
    assert status() is WorkerStatus.AVAILABLE
    assert status(running=2) is WorkerStatus.BUSY
    assert status(draining=True) is WorkerStatus.DRAINING
    assert status(heartbeat_at=NOW - timedelta(seconds=31)) is WorkerStatus.OFFLINE
    assert status(lost=True) is WorkerStatus.OFFLINE
    assert status(gone=True, draining=True) is WorkerStatus.OFFLINE
