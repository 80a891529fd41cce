"""The platform as a user runs it: the API on a real port, the job workflows' worker, and a real
`tempoline executor` process that registers with a bootstrap token and runs the commands."""

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from core.settings import Settings
from registry import task_queues
from tests.integration.live_api import serve
from tests.platform.api_world import member, status_of
from tests.platform.harness import PATIENCE
from worker import build_workers

TEMPOLINE = str(Path(sys.executable).parent / "tempoline")
ENDED = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"}


@asynccontextmanager
async def executor(
    settings: Settings, url: str, token: str, cwd: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    env = {
        **os.environ,
        "TEMPOLINE_API_URL": url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPORAL_NAMESPACE": settings.temporal_namespace,
        "TEMPOLINE_ENCRYPTION_KEY": settings.encryption_key or "",
        "TEMPOLINE_BOOTSTRAP_TOKEN": token,
    }
    process = await asyncio.create_subprocess_exec(
        TEMPOLINE, "executor", "--worker-type", "default", "--slots", "2", env=env, cwd=cwd
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@asynccontextmanager
async def running(
    settings: Settings, temporal: WorkflowEnvironment, admin_headers: dict[str, str], cwd: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncio.subprocess.Process]]:
    """The API on a real port, the job workflows served, and one executor registered with a
    bootstrap token the admin issued."""
    async with (
        serve(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as api,
        Dependencies.open(settings) as deps,
        AsyncExitStack() as stack,
    ):
        for w in build_workers(temporal.client, task_queues(deps, ["platform"])):
            await stack.enter_async_context(w)
        token = await api.post("/api/platform/tokens", json={"ttl_seconds": 600}, headers=admin_headers)
        assert token.status_code == 201, token.text
        async with executor(settings, url, token.json()["token"], cwd) as process:
            yield api, process


async def ended(api: httpx.AsyncClient, job_id: str, headers: dict[str, str]) -> dict[str, object]:
    async with asyncio.timeout(PATIENCE):
        while await status_of(api, job_id, headers) not in ENDED:  # noqa: ASYNC110 (polls the API)
            await asyncio.sleep(0.2)
    return (await api.get(f"/api/platform/jobs/{job_id}", headers=headers)).json()


async def test_jobs_run_on_a_real_executor(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    async with running(settings, temporal, admin_headers, tmp_path) as (api, process):
        alice = await member(api, admin_headers, "alice")
        hello = await api.post(
            "/api/platform/jobs", json={"name": "hello", "command": ["echo", "hi"]}, headers=alice
        )
        assert hello.status_code == 201, hello.text
        done = await ended(api, hello.json()["id"], alice)
        assert done["status"] == "SUCCEEDED", done
        logs = (await api.get(f"/api/platform/jobs/{hello.json()['id']}/logs", headers=alice)).json()
        assert "".join(c["data"] for c in logs["items"]) == "hi\n"

        failing = await api.post(
            "/api/platform/jobs",
            json={"name": "fails", "script": "echo out; echo err >&2; exit 3", "max_attempts": 2},
            headers=alice,
        )
        assert failing.status_code == 201, failing.text
        failed = await ended(api, failing.json()["id"], alice)
        assert failed["status"] == "FAILED", failed
        assert [a["exit_code"] for a in failed["attempts"]] == [3, 3]  # type: ignore[union-attr]

        workers = (await api.get("/api/platform/workers", headers=admin_headers)).json()
        assert [w["status"] for w in workers["items"]] == ["available"]
        # SIGTERM drains: nothing runs, so it deregisters and exits 0 at once.
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(PATIENCE):
            assert await process.wait() == 0


async def sse_events(
    api: httpx.AsyncClient, path: str, headers: dict[str, str], limit: int | None = None
) -> list[dict[str, str]]:
    """The events of an SSE response, until it ends (or `limit` of them)."""
    events: list[dict[str, str]] = []
    event: dict[str, str] = {}
    async with api.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith(":"):
                continue
            if not line:
                if event:
                    events.append(event)
                    event = {}
                    if limit is not None and len(events) == limit:
                        break
                continue
            field, _, value = line.partition(": ")
            event[field] = event[field] + "\n" + value if field == "data" and field in event else value
    return events


async def test_output_stream_ends_with_the_job(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    """A follower waiting for more output is woken by the job's end, not left until the stream's
    next keep-alive (15 s later; bench.platform measured that lag)."""
    async with running(settings, temporal, admin_headers, tmp_path) as (api, _):
        alice = await member(api, admin_headers, "alice")
        job = (
            await api.post(
                "/api/platform/jobs", json={"name": "t", "script": "echo hi; sleep 1"}, headers=alice
            )
        ).json()
        async with asyncio.timeout(PATIENCE):
            followed = await sse_events(api, f"/api/platform/jobs/{job['id']}/logs?follow=true", alice)
        stream_ended = time.time()
        done = await ended(api, job["id"], alice)
        assert [e["data"] for e in followed] == ["hi\n"]
        assert stream_ended - datetime.fromisoformat(str(done["finished_at"])).timestamp() < 3


async def test_output_and_events_stream_live_and_resume(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    admin_headers: dict[str, str],
    tmp_path: Path,
) -> None:
    async with running(settings, temporal, admin_headers, tmp_path) as (api, _):
        alice = await member(api, admin_headers, "alice")
        script = "for i in 1 2 3 4 5; do echo line $i; sleep 0.4; done; echo oops >&2"
        job = (
            await api.post("/api/platform/jobs", json={"name": "t", "script": script}, headers=alice)
        ).json()
        path = f"/api/platform/jobs/{job['id']}/logs?follow=true"
        # Followed from the start, while it runs: every chunk in order, then the stream ends.
        async with asyncio.timeout(PATIENCE):
            followed = await sse_events(api, path, alice)
        assert "".join(e["data"] for e in followed if e["event"] == "stdout") == "".join(
            f"line {i}\n" for i in range(1, 6)
        )
        assert [e["data"] for e in followed if e["event"] == "stderr"] == ["oops\n"]
        assert (await ended(api, job["id"], alice))["status"] == "SUCCEEDED"
        # Resumed after the first event: the rest, nothing twice.
        resumed = await sse_events(api, path, {**alice, "Last-Event-ID": followed[0]["id"]})
        assert [e["id"] for e in resumed] == [e["id"] for e in followed[1:]]
        # The tenant's events: the job's lifecycle in order; resumable by audit id.
        events = await sse_events(api, "/api/platform/events", alice, limit=4)
        assert [e["event"] for e in events] == [
            "JobCreated",
            "JobScheduled",
            "JobStarted",
            "JobCompleted",
        ]
        later = await sse_events(
            api, "/api/platform/events", {**alice, "Last-Event-ID": events[1]["id"]}, limit=2
        )
        assert [e["event"] for e in later] == ["JobStarted", "JobCompleted"]
        # Another tenant sees neither.
        bob = await member(api, admin_headers, "bob")
        assert (await api.get(path, headers=bob)).status_code == 404
