"""The API over real HTTP (uvicorn on a free port) with a blob directory of the test's own, and
helpers that make a tenant's candidate and interview."""

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities.dependencies import Dependencies
from core.settings import Settings
from registry import task_queues
from tests.conftest import terminate_running
from tests.integration.live_api import serve
from tests.platform.api_world import member
from tests.replay import recorded_histories
from worker import build_workers

FIXTURES = Path(__file__).parent / "fixtures"

RUBRIC = {
    "competencies": [
        {
            "name": "Communication",
            "weight": 0.4,
            "levels": [
                {"score": 1, "description": "Hard to follow"},
                {"score": 3, "description": "Clear"},
                {"score": 5, "description": "Clear, concise, adapts to the listener"},
            ],
        },
        {
            "name": "Collaboration",
            "weight": 0.6,
            "levels": [
                {"score": 1, "description": "Works alone"},
                {"score": 5, "description": "Resolves disagreements with data"},
            ],
        },
    ]
}


def stored_blobs(root: Path) -> list[Path]:
    """Every file under the blob directory, unfinished ones included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@asynccontextmanager
async def interview_workers(settings: Settings, client: Client, *also: str) -> AsyncIterator[None]:
    """The interviews context's workers, in this process, with these settings; at the end, its
    interviews (and workflows of the types in ``also``) still running are terminated."""
    async with Dependencies.open(settings) as deps, AsyncExitStack() as stack:
        for worker in build_workers(client, task_queues(deps, ["interviews"])):
            await stack.enter_async_context(worker)
        yield
        await terminate_running(client, "Interview", *also)


@pytest.fixture
def interview_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"blob_dir": tmp_path / "blobs"})


@pytest.fixture
async def live(
    interview_settings: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[httpx.AsyncClient]:
    """(An upload starts the interview's workflow: Temporal is part of the API here.)"""
    async with serve(interview_settings) as url, httpx.AsyncClient(base_url=url, timeout=60) as client:
        yield client


async def candidate(api: httpx.AsyncClient, headers: dict[str, str], name: str = "Pat Doe") -> dict:
    body = {"name": name, "email": "pat@example.com", "phone": "+1 (555) 010-2030"}
    created = await api.post("/api/interviews/candidates", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def interview(api: httpx.AsyncClient, headers: dict[str, str], candidate_id: str) -> dict:
    body = {
        "candidate_id": candidate_id,
        "position": "Backend engineer",
        "language": "en-US",
        "interviewers": [{"name": "Sam Lee", "email": "sam@example.com"}],
        "scheduled_at": "2026-12-01T10:00:00+01:00",
        "time_zone": "Europe/Berlin",
        "rubric": RUBRIC,
    }
    created = await api.post("/api/interviews", json=body, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()


async def tenant_with_interview(
    api: httpx.AsyncClient, admin: dict[str, str], name: str
) -> tuple[dict[str, str], dict]:
    headers = await member(api, admin, name)
    person = await candidate(api, headers)
    return headers, await interview(api, headers, person["id"])


@pytest.fixture(autouse=True)
async def recorded(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    async for _ in recorded_histories.recorder(request, "interviews"):
        yield
