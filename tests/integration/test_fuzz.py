"""Schemathesis against the running API (uvicorn on a real port), every check, with an admin key
and with a company's key. The suite runs a bounded pass (a few examples per operation);
`make fuzz` runs the same with many more (TEMPOLINE_FUZZ_EXAMPLES). Failures that are not
defects are justified in docs/api.md and excluded here by name only."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from core.settings import Settings
from domain.platform.contracts import JOB_WORKFLOW
from domain.platform.schedules import SCHEDULED_JOB_WORKFLOW
from registry import task_queues
from tests.conftest import terminate_routings, terminate_running
from tests.integration.live_api import serve
from tests.platform.api_world import member
from worker import build_workers

EXAMPLES = int(os.environ.get("TEMPOLINE_FUZZ_EXAMPLES", "3"))
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture
async def live(settings: Settings, temporal: WorkflowEnvironment, clean_db: None) -> AsyncIterator[str]:
    # The job workflows are served, so that a cancel gets its answer (no executor runs a job).
    async with serve(settings) as url, Dependencies.open(settings) as deps, AsyncExitStack() as stack:
        for worker in build_workers(temporal.client, task_queues(deps, ["platform"])):
            await stack.enter_async_context(worker)
        yield url
    # What the fuzzer started must not run on into later tests: jobs, routings, schedules.
    await terminate_routings(temporal.client)
    await terminate_running(temporal.client, JOB_WORKFLOW, SCHEDULED_JOB_WORKFLOW)
    async for schedule in await temporal.client.list_schedules():
        await temporal.client.get_schedule_handle(schedule.id).delete()


async def _company_key(url: str, admin: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        created = await client.post("/api/routing/companies", json={"name": "Fuzz Co"}, headers=admin)
        assert created.status_code == 201, created.text
        return created.json()["api_key"]["key"]


async def _member_key(url: str, admin: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        return (await member(client, admin, "fuzz"))["Authorization"].removeprefix("Bearer ")


# Each key on the operations it may use (the other's answer only 403s). The tenant's event
# stream never ends by itself, so it is left to tests/platform.
OPERATIONS = {
    "admin": r"^/(health|codec/|api/admin/|api/routing/(ops/|companies$)"
    r"|api/platform/(tokens|workers|executor))",
    "company": r"^/(health|api/routing/(?!ops/|companies$))",
    "member": r"^/api/(platform/(jobs|schedules)|scheduling/|interviews)",
}
KEYS = {"company": _company_key, "member": _member_key}


async def _schemathesis(url: str, key: str, paths: str, workdir: Path) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "run",
        f"{url}/openapi.json",
        "--include-path-regex",
        paths,
        "--checks",
        "all",
        # Both justified in docs/api.md ("Fuzzing"): NUL is refused on purpose (tested in
        # test_api_errors), and domain rules (ZIP, phone, time zone...) are stricter than a schema.
        "--exclude-checks",
        "positive_data_acceptance",
        "--generation-allow-x00",
        "false",
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        str(EXAMPLES),
        "--workers",
        "1",
        "--generation-deterministic",
        "--no-color",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
        cwd=workdir,  # it keeps replay data in .schemathesis/ there, not in the work tree
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode()


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("who", OPERATIONS)
async def test_schemathesis_finds_nothing(live: str, admin_headers: dict[str, str], who: str, tmp_path: Path):
    key = admin_headers["Authorization"].removeprefix("Bearer ")
    if who in KEYS:
        key = await KEYS[who](live, admin_headers)
    code, output = await _schemathesis(live, key, OPERATIONS[who], tmp_path)
    assert code == 0, output[-20000:]
