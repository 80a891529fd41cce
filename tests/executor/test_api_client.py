"""The executor's HTTP client against a stand-in of the executor endpoints over real HTTP."""

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from clients.tempoline_api import (
    ApiUnavailable,
    AttemptFenced,
    BootstrapRefused,
    LogChunk,
    NotFound,
    Registration,
    TempolineApi,
    Unauthorized,
)
from emulators.runner import RunningEmulator, start_in_thread
from tests.conftest import free_port
from tests.executor.doubles import spec
from tests.executor.platform_api import PlatformApi


@pytest.fixture
def platform() -> Iterator[tuple[PlatformApi, RunningEmulator]]:
    api = PlatformApi()
    with start_in_thread(app=api.app()) as server:
        yield api, server


def _registration(token: str) -> Registration:
    return Registration(
        bootstrap_token=token,
        worker_type="shell",
        capabilities=["linux"],
        slots=2,
        cpu_millis=2000,
        memory_mb=1024,
        hostname="test-host",
    )


async def test_register_heartbeat_deregister(platform: tuple[PlatformApi, RunningEmulator]):
    api, server = platform
    async with TempolineApi.http_client(server.url) as http:
        client = TempolineApi(http)
        registered = await client.register(_registration(api.token()))
        assert registered.task_queue == f"platform-executor-{registered.worker_id}"
        assert registered.api_key not in repr(registered)
        answer = await client.heartbeat(registered.worker_id, running=1, draining=False)
        assert (answer.status, answer.drain) == ("busy", False)
        api.workers[registered.worker_id].drain = True
        assert (await client.heartbeat(registered.worker_id, running=0, draining=True)).drain
        await client.deregister(registered.worker_id)
    worker = api.workers[registered.worker_id]
    assert worker.registration["capabilities"] == ["linux"] and worker.deregistered
    assert worker.heartbeats == [{"running": 1, "draining": False}, {"running": 0, "draining": True}]


async def test_a_used_or_unknown_bootstrap_token_is_refused_with_the_reason(
    platform: tuple[PlatformApi, RunningEmulator],
):
    api, server = platform
    token = api.token()
    async with TempolineApi.http_client(server.url) as http:
        await TempolineApi(http).register(_registration(token))
        with pytest.raises(BootstrapRefused) as reused:
            await TempolineApi(http).register(_registration(token))
        with pytest.raises(BootstrapRefused) as unknown:
            await TempolineApi(http).register(_registration("tlb_nope"))
    assert reused.value.status == 410
    assert str(reused.value) == (
        "POST /api/platform/workers/register answered 410: Bootstrap token not usable: the token was used"
    )
    assert unknown.value.status == 401


async def test_attempt_spec_and_logs_map_fencing_and_unknown_attempts(
    platform: tuple[PlatformApi, RunningEmulator],
):
    api, server = platform
    job, attempt = uuid.uuid4(), 1
    api.attempts.specs[(job, attempt)] = spec(script="echo hi", env={"TOKEN": "s3cr3t"})
    chunk = LogChunk(seq=0, stream="stdout", data="hi\n", at=datetime.now(UTC))
    async with TempolineApi.http_client(server.url) as http:
        client = TempolineApi(http)
        registered = await client.register(_registration(api.token()))
        fetched = await client.attempt_spec(job, attempt)
        assert fetched.script == "echo hi" and fetched.env == {"TOKEN": "s3cr3t"}
        assert "s3cr3t" not in repr(fetched)
        await client.ship_logs(job, attempt, [chunk])
        await client.ship_logs(job, attempt, [chunk])  # a resent batch stores nothing twice
        assert api.attempts.output(job, attempt) == "hi\n"

        with pytest.raises(NotFound):
            await client.attempt_spec(job, 2)
        api.attempts.fenced.add((job, attempt))
        with pytest.raises(AttemptFenced) as fenced:
            await client.ship_logs(job, attempt, [chunk])
        assert fenced.value.status == 409 and "this worker does not hold the attempt" in str(fenced.value)
        with pytest.raises(AttemptFenced):
            await client.attempt_spec(job, attempt)

        await client.deregister(registered.worker_id)
        with pytest.raises(Unauthorized):  # the key of a worker that left
            await client.attempt_spec(job, attempt)


async def test_an_unreachable_api_is_unavailable():
    async with TempolineApi.http_client(f"http://127.0.0.1:{free_port()}") as http:
        with pytest.raises(ApiUnavailable) as down:
            await TempolineApi(http).register(_registration("tlb_x"))
    assert down.value.status is None and "ConnectError" in str(down.value)


async def test_registration_waits_for_an_api_that_is_starting():
    """The dev stack starts the API and an executor together: connection refusals are retried
    (nothing was sent, so the one-time token cannot be spent twice)."""
    api, port = PlatformApi(), free_port()
    token = api.token()
    async with TempolineApi.http_client(f"http://127.0.0.1:{port}", connect_retries=5) as http:
        registering = asyncio.create_task(TempolineApi(http).register(_registration(token)))
        await asyncio.sleep(0.8)
        assert not registering.done()
        server = await asyncio.to_thread(start_in_thread, port=port, app=api.app())
        try:
            registered = await registering
        finally:
            server.stop()
    assert registered.worker_id in api.workers
