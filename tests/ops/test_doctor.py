"""`tempoline doctor` against the test stack: healthy, then each broken dependency it claims to
detect. It runs as users run it: the installed command, configured by environment only."""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import psycopg
from google.protobuf.duration_pb2 import Duration
from pydantic import SecretStr
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from cli import doctor as checks
from cli import postgres
from core.settings import Settings
from domain.interviews.pipeline import TRANSCRIPTION_QUEUE
from registry import CONTEXTS
from tests.conftest import free_port, register_search_attributes
from tests.integration import routing_world as world
from tests.ops.conftest import ROOT, running_stack
from tests.platform import api_world as platform

# Every task queue of every context: each context's own, and the narrower ones.
QUEUES = (*CONTEXTS, TRANSCRIPTION_QUEUE)

TEMPOLINE = str(Path(sys.executable).parent / "tempoline")


def _env(settings: Settings) -> dict[str, str]:
    """The environment that configures `settings`, as a deployment would set it."""
    env = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, list):
            value = json.dumps(value)
        elif hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[field.alias] = str(value)
    return env


async def doctor(settings: Settings) -> tuple[int, dict[str, dict]]:
    """In a thread: the API under test answers from this event loop."""
    aliases = {f.alias for f in Settings.model_fields.values()}
    clean = {k: v for k, v in os.environ.items() if k not in aliases}
    result = await asyncio.to_thread(
        subprocess.run,
        [TEMPOLINE, "doctor", "--json"],
        cwd=ROOT,
        env={**clean, **_env(settings)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    report = json.loads(result.stdout)
    assert report["healthy"] is (result.returncode == 0), result
    return result.returncode, {f["check"]: f for f in report["findings"]}


async def _namespace(
    temporal: WorkflowEnvironment, settings: Settings, *, search_attributes: bool
) -> Settings:
    """A namespace of its own: no other test's workers have ever polled its task queues."""
    name = f"ops-{uuid.uuid4().hex[:12]}"
    await temporal.client.workflow_service.register_namespace(
        RegisterNamespaceRequest(namespace=name, workflow_execution_retention_period=Duration(seconds=86400))
    )
    client = await Client.connect(settings.temporal_address, namespace=name)

    async def ready() -> bool:
        try:
            if search_attributes:
                await register_search_attributes(client)
            await client.count_workflows()
        except RPCError:
            return False
        return True

    await world.eventually(ready, 30, f"namespace {name}")
    return settings.model_copy(update={"temporal_namespace": name})


async def _workers_polling(client: Client) -> None:
    """Pollers show in DescribeTaskQueue once a worker's first poll reaches the server."""
    for queue in QUEUES:

        async def polled(queue: str = queue) -> bool:
            served = await checks.task_queue(client, queue, workflows=queue != TRANSCRIPTION_QUEUE)
            return served.status == checks.Status.OK

        await world.eventually(polled, 30, f"workers polling {queue}")


async def test_healthy_stack_exits_0(settings: Settings, temporal: WorkflowEnvironment, clean_db: None):
    mine = await _namespace(temporal, settings, search_attributes=True)
    async with running_stack(mine) as stack:
        await _workers_polling(stack.client)
        code, findings = await doctor(mine.model_copy(update={"api_url": stack.api_url}))
    assert code == 0, [f for f in findings.values() if f["status"] != "ok"]
    # Google's Speech-to-Text is not in the default transcription chain: not asked.
    assert findings.pop("google speech")["status"] == "skipped"
    assert {f["status"] for f in findings.values()} == {"ok"}, findings
    assert {
        "configuration",
        "postgresql",
        "temporal",
        "search attributes",
        *(f"task queue {queue}" for queue in QUEUES),
        "routings",
        "platform jobs",
        "calendars",
        "provider credentials",
        "google oauth",
        "openai",
        "anthropic",
        "codec endpoint",
    } == set(findings)
    assert f"{stack.api_url}/codec/ui/" in findings["codec endpoint"]["details"][0]


async def test_a_missing_search_attribute_is_named(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
):
    bare = await _namespace(temporal, settings, search_attributes=False)
    code, findings = await doctor(bare)
    assert code == 1
    attributes = findings["search attributes"]
    assert attributes["status"] == "fail"
    assert "missing: RoutingStatus (INDEXED_VALUE_TYPE_KEYWORD)" in attributes["details"]
    assert "temporal-setup" in attributes["fix"]


async def test_a_task_queue_no_worker_polls_is_named(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
):
    unpolled = await _namespace(temporal, settings, search_attributes=True)
    code, findings = await doctor(unpolled)
    assert code == 1
    assert findings["search attributes"]["status"] == "ok"
    for queue in QUEUES:
        finding = findings[f"task queue {queue}"]
        assert finding["status"] == "fail"
        # The transcription queue serves activities only, and is asked for those only.
        kinds = "activity" if queue == TRANSCRIPTION_QUEUE else "workflow and activity"
        assert finding["summary"] == f"no worker polls its {kinds} tasks"
        assert f"--queues {queue}" in finding["fix"]


async def test_an_unmigrated_database_is_named(settings: Settings, pg: int, temporal: WorkflowEnvironment):
    database = f"unmigrated_{uuid.uuid4().hex[:8]}"
    postgres.ensure_database(pg, database)
    code, findings = await doctor(settings.model_copy(update={"database_url": postgres.url(pg, database)}))
    assert code == 1
    assert findings["postgresql"]["status"] == "fail"
    assert findings["postgresql"]["summary"].startswith(
        "not migrated: the database is at no migration applied"
    )
    assert "tempoline migrate" in findings["postgresql"]["fix"]
    assert findings["routings"]["status"] == "skipped"


async def test_an_unreachable_database_is_named(settings: Settings, temporal: WorkflowEnvironment):
    code, findings = await doctor(
        settings.model_copy(update={"database_url": postgres.url(free_port(), "tempoline")})
    )
    assert code == 1
    assert findings["postgresql"]["summary"].startswith("cannot reach PostgreSQL")


async def test_a_web_ui_origin_the_api_refuses_is_named(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
):
    async with running_stack(settings) as stack:
        moved_ui = settings.model_copy(
            update={"api_url": stack.api_url, "web_ui_origins": ["https://ui.example"]}
        )
        code, findings = await doctor(moved_ui)
    assert code == 1
    assert findings["codec endpoint"]["details"][0] == "from https://ui.example: HTTP 400 (preflight), 200"


def test_settings_that_do_not_load_are_named(tmp_path: Path):
    result = subprocess.run(
        [TEMPOLINE, "doctor"],
        cwd=tmp_path,
        env={**os.environ, "TEMPORAL_TLS_CLIENT_CERT_PATH": "/etc/client.pem"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "TEMPORAL_TLS_CLIENT_KEY_PATH go together" in result.stdout


async def test_failing_provider_credentials_and_the_routings_they_hold_are_named(
    settings: Settings,
    temporal: WorkflowEnvironment,
    clean_db: None,
    emulator: str,
    admin_headers: world.Headers,
):
    async with running_stack(settings) as stack, httpx.AsyncClient(base_url=stack.api_url) as api:
        referrer = await world.company(
            api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1}
        )
        receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
        connection = (await api.get("/api/routing/connection", headers=receiver.headers)).json()
        kept = {k: connection[k] for k in ("provider", "tenant_id", "client_id", "booking_provider_id")}
        put = await api.put(
            "/api/routing/connection", json={**kept, "client_secret": "revoked"}, headers=receiver.headers
        )
        assert put.status_code == 200, put.text
        job = await api.post("/api/routing/jobs", json=world.job_body(1), headers=referrer.headers)
        routing = (await world.routings_of(api, referrer.headers, job.json()["id"]))[0]
        await world.routing_in(api, referrer.headers, routing["id"], {"needs_attention"}, wait=60)
        code, findings = await doctor(settings.model_copy(update={"api_url": stack.api_url}))
    assert code == 1
    credentials = findings["provider credentials"]
    assert credentials["status"] == "fail"
    assert credentials["summary"] == "1 provider connections cannot get a token"
    assert f"ServiceTitan tenant {receiver.st_tenant}" in credentials["details"][0]
    assert "invalid_client" in credentials["details"][0]
    assert findings["routings"]["status"] == "warn"
    assert findings["routings"]["summary"] == "1 routings in needs_attention"


async def test_an_unreachable_temporal_is_named(settings: Settings, temporal: WorkflowEnvironment):
    code, findings = await doctor(
        settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    )
    assert code == 1
    assert findings["temporal"]["summary"].startswith("cannot connect to 127.0.0.1:")
    assert findings["task queues"]["status"] == "skipped"


async def test_a_namespace_that_does_not_exist_is_named(settings: Settings, temporal: WorkflowEnvironment):
    code, findings = await doctor(settings.model_copy(update={"temporal_namespace": "no-such-namespace"}))
    assert code == 1
    assert findings["temporal"]["status"] == "fail", findings["temporal"]
    assert "no-such-namespace" in findings["temporal"]["fix"] + findings["temporal"]["summary"]


async def test_jobs_waiting_for_an_executor_are_named_with_their_reason(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None, admin_headers: world.Headers
):
    async with running_stack(settings) as stack, httpx.AsyncClient(base_url=stack.api_url) as api:
        alice = await platform.member(api, admin_headers, "alice")
        created = await api.post(
            "/api/platform/jobs", json={"name": "hello", "command": ["true"]}, headers=alice
        )
        assert created.status_code == 201, created.text

        async def waiting() -> str | None:
            return (await api.get(f"/api/platform/jobs/{created.json()['id']}", headers=alice)).json()[
                "wait_reason"
            ]

        await world.eventually(waiting, 30, "the job's wait reason")
        await _workers_polling(stack.client)
        code, findings = await doctor(settings.model_copy(update={"api_url": stack.api_url}))
    jobs = findings["platform jobs"]
    assert code == 0 and jobs["status"] == "warn"  # a warning, not a failure
    assert jobs["summary"] == "1 jobs waiting for an executor"
    assert jobs["details"][0].startswith(
        "1: waiting for a worker of type default: none registered (oldest created "
    )
    assert "tempoline executor" in jobs["fix"]


async def test_calendars_out_of_sync_are_named_with_their_reason(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
):
    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # type: ignore[arg-type]
        tenant, user = uuid.uuid4(), uuid.uuid4()
        conn.execute("INSERT INTO tenants (id, name) VALUES (%s, 'doctor')", (tenant,))
        conn.execute(
            "INSERT INTO scheduling_users (id, tenant_id, email_digest, sealed, time_zone)"
            " VALUES (%s, %s, 'x', ''::bytea, 'UTC')",
            (user, tenant),
        )
        for n, (status, error) in enumerate(
            [
                ("reauthorization_required", "invalid_grant"),
                ("error", "Google answered 404 notFound"),
                ("ok", None),
            ]
        ):
            conn.execute(
                "INSERT INTO calendars (id, tenant_id, user_id, google_calendar_id, sealed, time_zone,"
                " selected, sync_status, last_error)"
                " VALUES (%s, %s, %s, %s, ''::bytea, 'UTC', true, %s, %s)",
                (uuid.uuid4(), tenant, user, f"c{n}", status, error),
            )
    # (Other checks fail here: no worker polls this stack's queues.)
    _, findings = await doctor(settings)
    calendars = findings["calendars"]
    assert calendars["status"] == "warn" and calendars["summary"] == "2 synced calendars are not in sync"
    assert sorted(calendars["details"]) == [
        "1 error: Google answered 404 notFound",
        "1 reauthorization_required: invalid_grant",
    ]
    assert "connect" in calendars["fix"]


async def test_providers_refusing_the_deployments_credentials_or_out_of_reach_are_named(
    settings: Settings, temporal: WorkflowEnvironment
):
    broken = settings.model_copy(
        update={
            "openai_api_key": "sk-proj-revoked-key-0000",
            "anthropic_api_key": "sk-ant-revoked",
            "google_client_secret": SecretStr("rotated-secret"),
            "google_speech_endpoint": f"127.0.0.1:{free_port()}",
            "interviews_transcription_providers": ["google", "local"],
        }
    )
    code, findings = await doctor(broken)
    assert code == 1
    openai = findings["openai"]
    assert openai["status"] == "fail"
    assert openai["summary"] == (
        f"{settings.openai_base_url} refuses OPENAI_API_KEY (HTTP 401): Incorrect API key provided: "
        "sk-proj-************0000. You can find your API key at https://platform.openai.com/account/api-keys."
    )
    assert openai["fix"].startswith("set OPENAI_API_KEY to a valid key")
    anthropic = findings["anthropic"]
    assert anthropic["status"] == "fail"
    assert anthropic["summary"] == (
        f"{settings.anthropic_base_url} refuses ANTHROPIC_API_KEY (HTTP 401): invalid x-api-key"
    )
    google = findings["google oauth"]
    assert google["status"] == "fail"
    assert google["summary"] == (
        "Google refuses the OAuth client 'emulator-client-id' (HTTP 401 invalid_client: Unauthorized)"
    )
    assert google["details"] == ["GOOGLE_CLIENT_ID is not set: the emulators' default is in use"]
    speech = findings["google speech"]
    assert speech["status"] == "fail"
    assert speech["summary"].startswith(
        f"cannot use GOOGLE_SPEECH_ENDPOINT ({broken.google_speech_endpoint}): UNAVAILABLE"
    )
    assert "GOOGLE_SPEECH_ENDPOINT" in speech["fix"]
