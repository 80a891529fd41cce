"""The real stack for benchmarks, each part its own process as `tempoline dev` runs them: embedded
PostgreSQL, the Temporal dev server, the ServiceTitan emulator, the API under uvicorn, and
worker processes started and stopped by phase.

The pieces follow tests/conftest.py and tests/integration/routing_world.py; the few lines they
share are copied here because bench/ is installed with the package and tests/ is not.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.testing import WorkflowEnvironment

from api.keys import generate as generate_api_key
from bench._engine_work import DONE_DIR
from cli import postgres
from cli.dev import DEV_SERVER_FLAGS, EXECUTOR_WITHHELD_ENV
from cli.processes import Supervisor, wait_for_port
from core.correlation import CorrelationInterceptor
from core.crypto import Cipher, generate_key
from core.settings import Settings
from core.temporal import data_converter
from domain.platform.contracts import executor_task_queue
from domain.search_attributes import ALL as SEARCH_ATTRIBUTES
from store import migrate

BIN = Path(sys.executable).parent
WORKER_START_TIMEOUT = 60.0
# worker.py drains for up to 10 s on SIGTERM.
WORKER_STOP_TIMEOUT = 15.0
Headers = dict[str, str]

# The routing world: every receiver covers the job's ZIP and trade with room for every job.
PROFILE: dict[str, Any] = {
    "trades": ["plumbing"],
    "service_area": {"kind": "zip_codes", "zip_codes": ["94107"]},
    "business_hours": {"timezone": "America/Los_Angeles", "weekly": {}},
    "daily_capacity": 100_000,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def job_body(n: int = 0, **extra: Any) -> dict[str, Any]:
    """A valid service job, different for each n (tests use it too)."""
    return {
        "summary": f"Leaking kitchen sink #{n}",
        "trade": "plumbing",
        "address": {"street": f"{n} Main St", "city": "San Francisco", "state": "CA", "zip": "94107"},
        "homeowner": {
            "name": f"Homeowner {n}",
            "phone": f"+1415555{n % 10_000:04d}",
            "email": f"owner{n}@example.com",
        },
        **extra,
    }


@dataclass
class Stack:
    root: Path
    settings: Settings
    temporal: WorkflowEnvironment
    api_url: str
    emulator_url: str
    admin: Headers
    supervisor: Supervisor
    # Where the bare engine's worker processes count finished jobs (bench._engine_work).
    done_dir: Path
    # Top-level processes (pid: role), for CPU accounting; the benchmark's own process is "bench".
    roles: dict[int, str]

    @contextmanager
    def cpu(self) -> Iterator[dict[str, float]]:
        """CPU seconds each part of the stack used inside the block (filled in on exit), and
        "other": what the rest of the machine used meanwhile, which makes a run unreliable."""
        used: dict[str, float] = {}
        before, machine = cpu_seconds(self.roles), _busy_seconds()
        yield used
        after, machine = cpu_seconds(self.roles), _busy_seconds() - machine
        used.update({role: after[role] - before.get(role, 0.0) for role in after})
        used["other"] = max(machine - sum(used.values()), 0.0)


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    # Linux counts guest time in user time too; steal stays in: it was not ours to use either.
    unused = ("idle", "iowait", "guest", "guest_nice")
    return sum(times) - sum(getattr(times, name, 0.0) for name in unused)


def cpu_seconds(roles: dict[int, str]) -> dict[str, float]:
    """user+system seconds of each role's process trees; exited, reaped children included."""
    me = psutil.Process()
    totals = dict.fromkeys(["bench", *roles.values(), "temporal"], 0.0)
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
            chain = [proc, *proc.parents()]
        except psutil.NoSuchProcess:
            continue
        if proc.pid == me.pid:  # what we reaped was the stack's, not ours: left out
            totals["bench"] += times.user + times.system
            continue
        # The dev server is started by the SDK's core: the one child we did not name.
        role = next((roles[p.pid] for p in chain if p.pid in roles), "temporal")
        totals[role] += times.user + times.system + times.children_user + times.children_system
    return totals


async def company(
    api: httpx.AsyncClient, admin: Headers, name: str, mode: dict[str, Any] | None = None
) -> tuple[str, Headers]:
    """A routing company (a tenant) created by the admin: its id and its API key's headers."""
    body: dict[str, Any] = {"name": name, **({"mode": mode} if mode else {})}
    created = await api.post("/api/routing/companies", json=body, headers=admin)
    assert created.status_code == 201, created.text
    data = created.json()
    return data["id"], {"Authorization": f"Bearer {data['api_key']['key']}"}


async def receiver(
    api: httpx.AsyncClient,
    stack: Stack,
    n: int,
    referrer: Headers,
    *,
    rate_limit_per_second: float,
    emulator_rate_limit: int,
) -> str:
    """A receiving company with a profile, a ServiceTitan tenant and a partnership from `referrer`."""
    receiver_id, headers = await company(api, stack.admin, f"Receiver {n}")
    tenant = str(1000 + n)
    provisioned = await api.post(
        f"{stack.emulator_url}/_control/servicetitan/tenants",
        json={
            "tenant_id": tenant,
            "client_id": f"cid-{tenant}",
            "client_secret": f"secret-{tenant}",
            "rate_limit_per_second": emulator_rate_limit,
        },
    )
    assert provisioned.status_code == 200, provisioned.text
    put = await api.put("/api/routing/profile", json=PROFILE, headers=headers)
    assert put.status_code == 200, put.text
    put = await api.put(
        "/api/routing/connection",
        json={
            "provider": "servicetitan",
            "tenant_id": tenant,
            "client_id": f"cid-{tenant}",
            "client_secret": f"secret-{tenant}",
            "booking_provider_id": "77",
            "rate_limit_per_second": rate_limit_per_second,
        },
        headers=headers,
    )
    assert put.status_code == 200, put.text
    partnership = await api.post(
        "/api/routing/partnerships",
        json={"receiver_id": receiver_id, "fee_terms": {"kind": "percent", "amount": 10}},
        headers=referrer,
    )
    assert partnership.status_code == 201, partnership.text
    return receiver_id


def _remove(root: Path, *, keep_logs: bool) -> None:
    """The stack's files go, but after a failure its processes' logs are kept beside them."""
    if keep_logs and (root / "logs").exists():
        kept = root.parent / f"{root.name}-logs"
        shutil.move(root / "logs", kept)
        print(f"the stack's logs: {kept}", file=sys.stderr)
    shutil.rmtree(root, ignore_errors=True)


@asynccontextmanager
async def running_stack(
    postgres_options: Sequence[str] = (),
    providers: str = "servicetitan",
    environment: Mapping[str, str] | None = None,
) -> AsyncIterator[Stack]:
    """The stack; `environment` is added to its processes' environment (not to `Stack.settings`:
    it holds values as the processes read them, JSON for lists)."""
    root = Path(tempfile.mkdtemp(prefix="tempoline-bench-"))
    async with AsyncExitStack() as cleanup:
        cleanup.push(lambda failed, *_: _remove(root, keep_logs=failed is not None))

        pg_port = free_port()
        pg = postgres.start(root / "data", pg_port, root / "postgres.log", postgres_options)
        cleanup.callback(postgres.stop, pg)
        postgres.wait_ready(pg_port, pg)
        postgres.ensure_database(pg_port, "tempoline")
        database_url = postgres.url(pg_port, "tempoline")
        migrate.upgrade(database_url)

        key = generate_key()
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=str(BIN / "temporal"),
            dev_server_extra_args=DEV_SERVER_FLAGS,
            data_converter=data_converter(Cipher(key)),
            interceptors=[CorrelationInterceptor()],
            search_attributes=SEARCH_ATTRIBUTES,
        )
        cleanup.push_async_callback(env.shutdown)

        emulator_port, api_port = free_port(), free_port()
        emulator_url = f"http://127.0.0.1:{emulator_port}"
        admin_key = generate_api_key()
        variables = {
            "DATABASE_URL": database_url,
            "TEMPOLINE_ENCRYPTION_KEY": key,
            "TEMPOLINE_ADMIN_API_KEY": admin_key,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "SERVICETITAN_AUTH_URL": f"{emulator_url}/servicetitan/auth",
            "SERVICETITAN_API_URL": f"{emulator_url}/servicetitan/api",
            "GOOGLE_CALENDAR_API_ENDPOINT": f"{emulator_url}/google",
            "GOOGLE_OAUTH_TOKEN_URI": f"{emulator_url}/google/oauth2/token",
            "GOOGLE_OAUTH_AUTH_URI": f"{emulator_url}/google/oauth2/auth",
            "TEMPOLINE_API_HOST": "127.0.0.1",
            "TEMPOLINE_API_PORT": str(api_port),
            "TEMPOLINE_LOG_LEVEL": "WARNING",
            "TEMPOLINE_WORKER_METRICS_PORT": "0",
            "TEMPOLINE_BLOB_DIR": str(root / "blobs"),
            "OPENAI_BASE_URL": f"{emulator_url}/openai/v1",
            "ANTHROPIC_BASE_URL": f"{emulator_url}/anthropic",
        }
        settings = Settings(**variables)  # type: ignore[arg-type]
        done_dir = root / "done"
        done_dir.mkdir()
        supervisor = Supervisor(
            log_dir=root / "logs",
            env={**os.environ, **variables, **(environment or {}), DONE_DIR: str(done_dir)},
        )
        cleanup.callback(supervisor.stop, [(("api", "emulators"), 11.0)])
        python = sys.executable
        emulator_args = [
            "--port",
            str(emulator_port),
            "--providers",
            providers,
            "--log-level",
            "warning",
        ]
        emulators = supervisor.start("emulators", [python, "-m", "emulators", *emulator_args])
        api = supervisor.start("api", [python, "-m", "api"])
        wait_for_port("127.0.0.1", emulator_port, emulators, 20, "emulators")
        wait_for_port("127.0.0.1", api_port, api, 30, "API")

        yield Stack(
            root=root,
            settings=settings,
            temporal=env,
            api_url=f"http://127.0.0.1:{api_port}",
            emulator_url=emulator_url,
            admin={"Authorization": f"Bearer {admin_key}"},
            supervisor=supervisor,
            done_dir=done_dir,
            roles={pg.pid: "postgres", api.pid: "api", emulators.pid: "emulators"},
        )


@asynccontextmanager
async def worker_processes(stack: Stack, queue: str, argv: list[str], count: int) -> AsyncIterator[list[int]]:
    """`count` worker processes running `argv` (as `tempoline dev` runs `worker.py`), from when
    each of them polls `queue` until they have stopped gracefully; yields their pids."""
    names = tuple(f"{queue}-worker-{n}" for n in range(count))
    processes = [stack.supervisor.start(name, argv) for name in names]
    stack.roles.update(dict.fromkeys((p.pid for p in processes), "worker"))
    try:
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while not await _all_polling(stack, queue, processes):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"{queue}: the workers did not start polling; see {stack.root}-logs")
            await asyncio.sleep(0.1)
        yield [p.pid for p in processes]
    finally:
        await asyncio.to_thread(stack.supervisor.stop, [(names, WORKER_STOP_TIMEOUT)])


async def _all_polling(stack: Stack, queue: str, processes: list[subprocess.Popen[bytes]]) -> bool:
    polling = await polling_pids(stack, queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)
    return all(p.pid in polling for p in processes)


async def polling_pids(stack: Stack, queue: str, kind: "TaskQueueType.ValueType") -> set[int]:
    """The pids of the processes polling `queue` for `kind` tasks (on this host)."""
    described = await stack.temporal.client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=stack.temporal.client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=kind,
        )
    )
    # A worker's identity is "pid@host" (the SDK's default).
    return {int(pid) for p in described.pollers if (pid := p.identity.split("@")[0]).isdigit()}


async def tenant(api: httpx.AsyncClient, admin: Headers, name: str) -> Headers:
    """A tenant created by the admin, and its API key's headers."""
    created = await api.post("/api/admin/tenants", json={"name": name}, headers=admin)
    assert created.status_code == 201, created.text
    key = await api.post(
        "/api/admin/api-keys", json={"tenant_id": created.json()["id"], "name": name}, headers=admin
    )
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['key']}"}


@asynccontextmanager
async def executor_processes(
    stack: Stack, api: httpx.AsyncClient, count: int, slots: int
) -> AsyncIterator[dict[int, str]]:
    """`count` `tempoline executor --worker-type default --slots N` processes, each registered
    with a bootstrap token the admin issued (as the dev stack starts its own), from when each
    polls its own task queue until they have drained and deregistered; yields worker id by pid."""
    names = tuple(f"executor-{n}" for n in range(count))
    env = {k: v for k, v in stack.supervisor.env.items() if k not in EXECUTOR_WITHHELD_ENV}
    argv = [str(BIN / "tempoline"), "executor", "--worker-type", "default", "--slots", str(slots)]
    processes = []
    try:
        for name in names:
            token = await api.post("/api/platform/tokens", json={"ttl_seconds": 600}, headers=stack.admin)
            assert token.status_code == 201, token.text
            variables = {
                "TEMPOLINE_API_URL": stack.api_url,
                "TEMPOLINE_BOOTSTRAP_TOKEN": token.json()["token"],
            }
            processes.append(stack.supervisor.start(name, argv, env={**env, **variables}))
        stack.roles.update(dict.fromkeys((p.pid for p in processes), "executor"))
        worker_ids: dict[int, str] = {}
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        while len(worker_ids) < count:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"the executors did not start polling; see {stack.root}-logs")
            await asyncio.sleep(0.1)
            listed = await api.get("/api/platform/workers", params={"limit": 100}, headers=stack.admin)
            for worker in listed.json()["items"]:
                queue = executor_task_queue(uuid.UUID(worker["id"]))
                pids = await polling_pids(stack, queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)
                worker_ids |= {p.pid: worker["id"] for p in processes if p.pid in pids}
        yield worker_ids
    finally:
        await asyncio.to_thread(stack.supervisor.stop, [(names, WORKER_STOP_TIMEOUT)])
