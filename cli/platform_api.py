"""A person's client for /api/platform, what the `tempoline job|worker|token|schedule` commands
send: jobs (create, list, get, cancel, retry, logs paged or followed), the tenant's job events,
workers, bootstrap tokens and cron schedules. Answers are parsed with the API's own response
models; request bodies go as given, so the API alone judges them (its 422 names the field and
the reason).

Every failure is an `ApiError` (cli/api_client.py).
"""

import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from api.paging import Page
from api.routers.platform.jobs import JobOut, JobSummary, LogPage, StatusOut
from api.routers.platform.schedules import ScheduleOut, ScheduleSummary
from api.routers.platform.tokens import TokenCreated, TokenOut
from api.routers.platform.workers import WorkerOut
from cli.api_client import ApiClient
from clients import sse

PREFIX = "/api/platform"


class PlatformApi(ApiClient):
    prefix = PREFIX

    # -- jobs -------------------------------------------------------------------------------------

    async def create_job(self, body: dict[str, Any], idempotency_key: str | None = None) -> JobOut:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._call("POST", "/jobs", JobOut, json=body, headers=headers)

    async def list_jobs(self, **filters: Any) -> Page[JobSummary]:
        return await self._call("GET", "/jobs", Page[JobSummary], params=filters)

    async def get_job(self, job_id: uuid.UUID) -> JobOut:
        return await self._call("GET", f"/jobs/{job_id}", JobOut)

    async def cancel_job(self, job_id: uuid.UUID) -> StatusOut:
        return await self._call("POST", f"/jobs/{job_id}/cancel", StatusOut)

    async def retry_job(self, job_id: uuid.UUID) -> StatusOut:
        return await self._call("POST", f"/jobs/{job_id}/retry", StatusOut)

    async def log_page(
        self, job_id: uuid.UUID, *, cursor: str | None = None, attempt: int | None = None, limit: int = 1000
    ) -> LogPage:
        params = {"cursor": cursor, "attempt": attempt, "limit": limit}
        return await self._call("GET", f"/jobs/{job_id}/logs", LogPage, params=params)

    def follow_logs(self, job_id: uuid.UUID, after: str | None = None) -> AsyncIterator[sse.Message]:
        """The job's output chunks (event stdout|stderr, id `attempt.seq`) after `after`, live,
        until the job has ended."""
        return self._follow(f"/jobs/{job_id}/logs", {"follow": "true"}, after)

    def events(self, after: str | None = None) -> AsyncIterator[sse.Message]:
        """The tenant's job lifecycle events (id: the audit row's id) after `after`; endless."""
        return self._follow("/events", None, after)

    # -- workers and tokens -----------------------------------------------------------------------

    async def list_workers(self, *, limit: int | None = None, cursor: str | None = None) -> Page[WorkerOut]:
        return await self._call("GET", "/workers", Page[WorkerOut], params={"limit": limit, "cursor": cursor})

    async def create_token(self, *, ttl_seconds: int | None = None, name: str | None = None) -> TokenCreated:
        body = {k: v for k, v in {"ttl_seconds": ttl_seconds, "name": name}.items() if v is not None}
        return await self._call("POST", "/tokens", TokenCreated, json=body)

    async def list_tokens(self, *, limit: int | None = None, cursor: str | None = None) -> Page[TokenOut]:
        return await self._call("GET", "/tokens", Page[TokenOut], params={"limit": limit, "cursor": cursor})

    async def revoke_token(self, token_id: uuid.UUID) -> TokenOut:
        return await self._call("POST", f"/tokens/{token_id}/revoke", TokenOut)

    # -- cron schedules ---------------------------------------------------------------------------

    async def create_schedule(self, body: dict[str, Any], idempotency_key: str | None = None) -> ScheduleOut:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await self._call("POST", "/schedules", ScheduleOut, json=body, headers=headers)

    async def list_schedules(
        self, *, limit: int | None = None, cursor: str | None = None
    ) -> Page[ScheduleSummary]:
        params = {"limit": limit, "cursor": cursor}
        return await self._call("GET", "/schedules", Page[ScheduleSummary], params=params)

    async def get_schedule(self, schedule_id: uuid.UUID) -> ScheduleOut:
        return await self._call("GET", f"/schedules/{schedule_id}", ScheduleOut)

    async def act_on_schedule(
        self,
        schedule_id: uuid.UUID,
        action: Literal["pause", "resume", "trigger", "backfill"],
        body: dict[str, Any] | None = None,
    ) -> ScheduleOut:
        """pause, resume, trigger or backfill (`body`: that action's request, if any)."""
        return await self._call("POST", f"/schedules/{schedule_id}/{action}", ScheduleOut, json=body)

    async def delete_schedule(self, schedule_id: uuid.UUID) -> None:
        await self._send("DELETE", f"/schedules/{schedule_id}")
