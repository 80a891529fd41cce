from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.emulators.conftest import API, TENANT, get_token, headers, provision

CUSTOMERS = f"{API}/crm/v2/tenant/{TENANT}/customers"
ROOT = Path(__file__).resolve().parents[2]


async def test_health(client: httpx.AsyncClient) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    assert r.json() == {
        "status": "ok",
        "providers": ["servicetitan", "google", "speech", "openai", "anthropic"],
    }


async def test_fault_429_with_retry_after_count_then_success(client, st) -> None:
    r = await client.post(
        "/_control/faults",
        json={
            "provider": "servicetitan",
            "method": "GET",
            "path": "/customers$",
            "status": 429,
            "retry_after": 3,
            "count": 2,
        },
    )
    assert r.status_code == 201
    fault_id = r.json()["id"]
    statuses = []
    for _ in range(3):
        resp = await client.get(CUSTOMERS, headers=st)
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            assert resp.headers["retry-after"] == "3"
            assert resp.json()["status"] == 429
    assert statuses == [429, 429, 200]
    # a POST is not matched by the GET fault
    faults = (await client.get("/_control/faults")).json()["faults"]
    assert faults[0]["id"] == fault_id and faults[0]["applied"] == 2 and faults[0]["count"] == 0
    calls = (
        await client.get("/_control/calls", params={"provider": "servicetitan", "path": "customers"})
    ).json()
    assert [c["status"] for c in calls["calls"]] == [429, 429, 200]
    assert [c["fault_id"] for c in calls["calls"]] == [fault_id, fault_id, None]
    assert (await client.delete(f"/_control/faults/{fault_id}")).status_code == 200
    assert (await client.delete(f"/_control/faults/{fault_id}")).status_code == 404


async def test_fault_probability_is_seeded_and_independent(client, st) -> None:
    await provision(client, rate_limit_per_second=10_000)
    await client.post(
        "/_control/faults",
        json={"provider": "servicetitan", "path": "customers", "status": 503, "probability": 0.3, "seed": 7},
    )

    async def run() -> list[int]:
        return [(await client.get(CUSTOMERS, headers=st)).status_code for _ in range(200)]

    first = await run()
    failures = first.count(503)
    assert 30 <= failures <= 90, failures
    assert set(first) == {200, 503}
    # same seed, same sequence
    await client.post("/_control/reset?provider=servicetitan")
    await provision(client, rate_limit_per_second=10_000)
    st.update(headers(await get_token(client)))
    await client.post(
        "/_control/faults",
        json={"provider": "servicetitan", "path": "customers", "status": 503, "probability": 0.3, "seed": 7},
    )
    assert await run() == first


async def test_fault_delay_then_normal_answer(client, st) -> None:
    await client.post(
        "/_control/faults", json={"provider": "servicetitan", "path": "customers", "delay": 0.3, "count": 1}
    )
    t0 = time.monotonic()
    r = await client.get(CUSTOMERS, headers=st)
    assert r.status_code == 200 and r.json()["data"] == []
    assert time.monotonic() - t0 >= 0.3


async def test_fault_malformed_and_custom_body(client, st) -> None:
    await client.post("/_control/faults", json={"provider": "servicetitan", "malformed": True, "count": 1})
    r = await client.get(CUSTOMERS, headers=st)
    assert r.status_code == 200
    with pytest.raises(ValueError):
        r.json()
    await client.post("/_control/faults", json={"status": 500, "body": "boom", "count": 1})
    r = await client.get(CUSTOMERS, headers=st)
    assert (r.status_code, r.text) == (500, "boom")
    assert (await client.get(CUSTOMERS, headers=st)).status_code == 200


async def test_fault_validation(client) -> None:
    assert (
        await client.post("/_control/faults", json={"provider": "nope", "status": 500})
    ).status_code == 400
    assert (await client.post("/_control/faults", json={"path": "(", "status": 500})).status_code == 400
    assert (await client.post("/_control/faults", json={"path": "x"})).status_code == 400


async def test_calls_are_recorded_redacted_and_reset(client, st) -> None:
    await client.post(
        CUSTOMERS,
        headers=st,
        json={"name": "A", "address": {"street": "1 Main", "city": "X", "state": "CA", "zip": "90001"}},
    )
    calls = (await client.get("/_control/calls", params={"provider": "servicetitan"})).json()
    assert calls["count"] == 2  # token + create
    token_call, create_call = calls["calls"]
    assert token_call["form"]["client_secret"] == "***"
    assert create_call["method"] == "POST" and create_call["path"] == f"/api/crm/v2/tenant/{TENANT}/customers"
    assert create_call["json"]["name"] == "A" and create_call["status"] == 200
    assert create_call["headers"]["authorization"].endswith("***")
    assert len(create_call["headers"]["authorization"]) < 15
    assert create_call["headers"]["st-app-key"] == "emulator***"
    only_post = (await client.get("/_control/calls", params={"method": "post", "path": "customers$"})).json()
    assert only_post["count"] == 1
    assert (await client.post("/_control/reset")).json() == {
        "reset": ["servicetitan", "google", "speech", "openai", "anthropic"]
    }
    assert (await client.get("/_control/calls")).json() == {"count": 0, "calls": []}
    # provider state is gone too: the tenant no longer exists
    r = await client.post(
        "/servicetitan/auth/connect/token",
        data={"grant_type": "client_credentials", "client_id": "cid-123", "client_secret": "secret"},
    )
    assert r.status_code == 400


async def test_thousands_of_requests(client, st) -> None:
    await provision(client, rate_limit_per_second=100_000)
    t0 = time.monotonic()
    for chunk in range(10):
        rs = await asyncio.gather(*(client.get(CUSTOMERS, headers=st) for _ in range(300)))
        assert all(r.status_code == 200 for r in rs), chunk
    elapsed = time.monotonic() - t0
    assert (await client.get("/_control/calls", params={"limit": 0})).json()["count"] == 3001
    assert elapsed < 8, elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_subprocess_serves_health_and_stops_on_sigterm() -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulators",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--grpc-port",
            "0",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "emulator exited"
                assert time.monotonic() < deadline, "emulator did not start"
                time.sleep(0.05)
        assert r.status_code == 200 and r.json()["status"] == "ok"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_start_in_thread() -> None:
    from emulators.runner import start_in_thread

    with start_in_thread() as emu:
        assert httpx.get(f"{emu.url}/health").json()["providers"] == [
            "servicetitan",
            "google",
            "speech",
            "openai",
            "anthropic",
        ]
        # over real HTTP a long delay is a client-side timeout
        httpx.post(f"{emu.url}/_control/faults", json={"path": "token", "delay": 0.5, "count": 1})
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{emu.url}/servicetitan/auth/connect/token", data={}, timeout=0.1)
    assert not emu.thread.is_alive()


def test_real_http_keeps_up_with_a_busy_client(emulator_server) -> None:
    """Over a kept-alive connection the server answers hundreds of requests a second (on the
    plain asyncio loop it managed about 20: 200 requests took 9 s)."""
    with httpx.Client(base_url=emulator_server.url) as client:
        client.get("/health")
        started = time.monotonic()
        for _ in range(200):
            client.get("/health").raise_for_status()
        assert time.monotonic() - started < 3


def test_a_call_records_the_clients_connection(emulator_server) -> None:
    """`peer` tells connections apart: a keep-alive client's calls share one."""
    path = "/servicetitan/auth/connect/token"
    with (
        httpx.Client(base_url=emulator_server.url) as first,
        httpx.Client(base_url=emulator_server.url) as other,
    ):
        for client in (first, first, other):
            client.post(path, data={"grant_type": "client_credentials"})
    calls = httpx.get(f"{emulator_server.url}/_control/calls", params={"path": "connect/token$", "limit": 3})
    peers = [call["peer"] for call in calls.json()["calls"]]
    assert peers[0] == peers[1] != peers[2] and peers[0].startswith("127.0.0.1:")
