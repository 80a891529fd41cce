"""Schemathesis against the running API (uvicorn on a real port), every check, with an admin key
and with a company's key. The suite runs a bounded pass (a few examples per operation);
`make fuzz` runs the same with many more (TEMPOLINE_FUZZ_EXAMPLES). Failures that are not
defects are justified in docs/api.md and excluded here by name only."""

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from tests.conftest import terminate_routings
from tests.integration.live_api import serve

EXAMPLES = int(os.environ.get("TEMPOLINE_FUZZ_EXAMPLES", "3"))
SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture
async def live(settings: Settings, temporal: WorkflowEnvironment, clean_db: None) -> AsyncIterator[str]:
    async with serve(settings) as url:
        yield url
    await terminate_routings(temporal.client)


async def _company_key(url: str, admin: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=url) as client:
        created = await client.post("/api/routing/companies", json={"name": "Fuzz Co"}, headers=admin)
        assert created.status_code == 201, created.text
        return created.json()["api_key"]["key"]


# Each key on the operations it may use (the other's answer only 403s).
OPERATIONS = {
    "admin": r"^/(health|codec/|api/admin/|api/routing/ops/|api/routing/companies$)",
    "company": r"^/(health|api/routing/(?!ops/|companies$))",
}


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
@pytest.mark.parametrize("who", ["admin", "company"])
async def test_schemathesis_finds_nothing(live: str, admin_headers: dict[str, str], who: str, tmp_path: Path):
    key = admin_headers["Authorization"].removeprefix("Bearer ")
    if who == "company":
        key = await _company_key(live, admin_headers)
    code, output = await _schemathesis(live, key, OPERATIONS[who], tmp_path)
    assert code == 0, output[-20000:]
