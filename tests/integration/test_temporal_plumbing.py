"""The worker plumbing every pipeline relies on: encrypted payloads and correlation ids."""

import io
import json
import socket
import uuid
from datetime import timedelta

import httpx
import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

import worker
from core import logging
from core.codec import ENCODING
from core.settings import Settings
from tests.integration.plumbing import (
    FlakyWorkflow,
    Greeting,
    LocalWorkflow,
    PlumbingWorkflow,
    RefusedWorkflow,
    flaky,
    greet,
    refuse,
)

SECRET = "homeowner-phone-+14155550123"


async def _run_once(client: Client, workflow_id: str, workflow: type = PlumbingWorkflow) -> str:
    from registry import QueueSpec

    queue = f"test-{uuid.uuid4()}"
    spec = QueueSpec(name=queue, workflows=[workflow], activities=[greet, flaky])
    (w,) = worker.build_workers(client, [spec])
    async with w:
        return await client.execute_workflow(
            workflow.run, Greeting(name=SECRET), id=workflow_id, task_queue=queue
        )


async def test_payloads_in_history_are_ciphertext(temporal: WorkflowEnvironment):
    workflow_id = f"plumbing-{uuid.uuid4()}"
    assert await _run_once(temporal.client, workflow_id) == f"hello {SECRET}"

    # A client without our codec reads what the history store holds.
    raw = await Client.connect(temporal.client.service_client.config.target_host)
    history = await raw.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    assert started.metadata["encoding"] == ENCODING
    assert SECRET.encode() not in history.to_json().encode()
    assert SECRET.encode() not in started.data


async def test_failure_messages_in_history_are_ciphertext(temporal: WorkflowEnvironment):
    from registry import QueueSpec

    queue, workflow_id = f"test-{uuid.uuid4()}", f"plumbing-{uuid.uuid4()}"
    spec = QueueSpec(name=queue, workflows=[RefusedWorkflow], activities=[refuse])
    (w,) = worker.build_workers(temporal.client, [spec])
    async with w:
        with pytest.raises(WorkflowFailureError) as failed:
            await temporal.client.execute_workflow(
                RefusedWorkflow.run, Greeting(name=SECRET), id=workflow_id, task_queue=queue
            )
    # Our client decodes the failure: the message is there for people with the key...
    assert SECRET in str(failed.value.cause.cause)

    # ...and not for the history store.
    raw = await Client.connect(temporal.client.service_client.config.target_host)
    history = await raw.get_workflow_handle(workflow_id).fetch_history()
    assert SECRET.encode() not in history.to_json().encode()


async def test_codec_endpoint_round_trip(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
):
    from api.routers.codec import ui_token

    plain = {"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": "eyJhIjogMX0="}]}
    encoded = await api.post("/codec/encode", json=plain, headers=admin_headers)
    assert encoded.status_code == 200
    assert encoded.json()["payloads"][0]["data"] != plain["payloads"][0]["data"]
    decoded = await api.post("/codec/decode", json=encoded.json(), headers=admin_headers)
    assert decoded.json() == plain
    # The Web UI's door: a token derived from the key, wrong tokens look like nothing is there.
    ui = await api.post(
        f"/codec/ui/{ui_token(settings.encryption_key)}/decode",
        json=encoded.json(),
        headers={"Origin": "http://127.0.0.1:8233"},
    )
    assert ui.json() == plain
    assert ui.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
    assert (await api.post("/codec/ui/wrong/decode", json=encoded.json())).status_code == 404
    assert (await api.post("/codec/decode", json=encoded.json())).status_code == 401
    # Another tenant's payloads are in the same history encryption: tenants' keys may not decode.
    tenant = await api.post("/api/admin/tenants", json={"name": "Codec Tenant"}, headers=admin_headers)
    key = await api.post(
        "/api/admin/api-keys",
        json={"tenant_id": tenant.json()["id"], "name": "app"},
        headers=admin_headers,
    )
    tenant_headers = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await api.post("/codec/decode", json=encoded.json(), headers=tenant_headers)).status_code == 403
    bad = await api.post("/codec/decode", content=b"not json", headers=admin_headers)
    assert bad.status_code == 400
    forged = {"payloads": [{"metadata": {"encoding": "YmluYXJ5L2VuY3J5cHRlZA=="}, "data": "AAAAAAAAAAAA"}]}
    tampered = await api.post("/codec/decode", json=forged, headers=admin_headers)
    assert tampered.status_code == 400 and "decrypted" in tampered.json()["detail"]


@pytest.mark.parametrize("workflow", [PlumbingWorkflow, LocalWorkflow], ids=["activity", "local activity"])
async def test_activity_log_lines_carry_correlation_run_and_attempt(
    temporal: WorkflowEnvironment, workflow: type
):
    stream = io.StringIO()
    logging.configure("worker", stream=stream)
    workflow_id = f"plumbing-{uuid.uuid4()}"
    token = logging.correlation_id.set("corr-from-api-123")
    try:
        await _run_once(temporal.client, workflow_id, workflow)
    finally:
        logging.correlation_id.reset(token)
        logging.configure("test")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    greetings = [line for line in lines if str(line.get("event")).startswith("greeting")]
    # Ours (structlog) and the SDK's activity.logger (standard library) alike.
    assert len(greetings) == 2, stream.getvalue()
    for line in greetings:
        assert line["correlation_id"] == "corr-from-api-123", line
        assert line["workflow_id"] == workflow_id
        assert line["run_id"], line
        assert line["activity"] == "plumbing_greet"
        assert line["attempt"] == 1
        assert line["service"] == "worker"
    assert SECRET not in stream.getvalue()


async def test_the_sdks_own_activity_lines_carry_run_and_attempt(temporal: WorkflowEnvironment):
    stream = io.StringIO()
    logging.configure("worker", stream=stream)
    workflow_id = f"plumbing-{uuid.uuid4()}"
    try:
        await _run_once(temporal.client, workflow_id, FlakyWorkflow)
    finally:
        logging.configure("test")
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    failed = [line for line in lines if line.get("event") == "Completing activity as failed"]
    assert failed, stream.getvalue()
    assert failed[0]["workflow_id"] == workflow_id
    assert failed[0]["run_id"] and failed[0]["attempt"] == 1
    assert failed[0]["activity"] == "plumbing_flaky"


@pytest.mark.parametrize("value", ["s3cr3t"])
def test_secrets_never_reach_a_log_line(value: str):
    stream = io.StringIO()
    logging.configure("api", stream=stream)
    logging.get_logger("t").info("connecting", client_secret=value, api_key=value)
    logging.configure("test")
    assert value not in stream.getvalue() and "***" in stream.getvalue()


async def test_time_skipping_server_runs_a_day_long_timer(time_skipping: WorkflowEnvironment):
    from registry import QueueSpec
    from tests.integration.plumbing import ReminderWorkflow

    queue = f"test-{uuid.uuid4()}"
    before = await time_skipping.get_current_time()
    (w,) = worker.build_workers(time_skipping.client, [QueueSpec(queue, [ReminderWorkflow], [greet])])
    async with w:
        result = await time_skipping.client.execute_workflow(
            ReminderWorkflow.run, Greeting(name="later"), id=f"reminder-{uuid.uuid4()}", task_queue=queue
        )
    assert result == "hello later"
    assert (await time_skipping.get_current_time()) - before >= timedelta(days=1)


def test_a_second_worker_on_the_same_metrics_port_says_what_to_do(settings: Settings):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as stopped:
            worker.runtime(settings.model_copy(update={"worker_metrics_port": port}))
    message = str(stopped.value)
    assert f"127.0.0.1:{port}" in message and "TEMPOLINE_WORKER_METRICS_PORT" in message
