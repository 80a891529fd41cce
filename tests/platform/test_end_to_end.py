"""The platform as a user runs it: the API on a real port, the job workflows' worker, and a real
`tempoline executor` process that registers with a bootstrap token and runs the commands."""

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from core.settings import Settings
from registry import task_queues
from tests.integration.live_api import serve
from tests.platform.harness import PATIENCE
from tests.platform.test_api import member, status_of
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
    async with (
        serve(settings) as url,
        httpx.AsyncClient(base_url=url, timeout=30) as api,
        Dependencies.open(settings) as deps,
        AsyncExitStack() as stack,
    ):
        for w in build_workers(temporal.client, task_queues(deps, ["platform"])):
            await stack.enter_async_context(w)
        alice = await member(api, admin_headers, "alice")
        token = await api.post("/api/platform/tokens", json={"ttl_seconds": 600}, headers=admin_headers)
        assert token.status_code == 201, token.text
        async with executor(settings, url, token.json()["token"], tmp_path) as process:
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
