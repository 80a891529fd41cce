"""Routing end to end: the API, the workflows on the real dev server, PostgreSQL, and the
ServiceTitan emulator over real HTTP."""

from decimal import Decimal

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from tests.conftest import api_client, free_port
from tests.integration import routing_world as world

pytestmark = pytest.mark.usefixtures("routing_worker")


async def test_job_is_booked_followed_and_completed_with_a_ledger_entry(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str, temporal: WorkflowEnvironment
):
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receiver = await world.receiver(
        api, admin_headers, emulator, "Receiver", referrer=referrer, fee={"kind": "percent", "amount": 10}
    )
    created = await api.post(
        "/api/routing/jobs", json=world.job_body(1), headers={**referrer.headers, "Idempotency-Key": "job-1"}
    )
    assert created.status_code == 202, created.text
    job_id = created.json()["id"]
    [summary] = await world.routings_of(api, referrer.headers, job_id)
    assert summary["receiver_id"] == receiver.id

    synced = await world.routing_in(api, receiver.headers, summary["id"], {"synced"})
    state = await world.emulator_state(emulator, receiver.st_tenant)
    [booking] = state["bookings"]
    assert booking["externalId"] == summary["id"]
    assert synced["st_booking_id"] == booking["id"]
    assert len(state["customers"]) == 1 and state["customers"][0]["name"] == "Homeowner 1"

    await world.advance(emulator, receiver.st_tenant, booking["id"], "scheduled")
    await world.routing_in(api, receiver.headers, summary["id"], {"scheduled"})
    await world.advance(emulator, receiver.st_tenant, booking["id"], "completed", total=480.0)
    done = await world.routing_in(api, referrer.headers, summary["id"], {"completed"})
    assert Decimal(done["invoice_total"]) == Decimal("480.00")

    [entry] = (await api.get("/api/routing/ledger", headers=referrer.headers)).json()["items"]
    assert (entry["routing_id"], Decimal(entry["fee"])) == (summary["id"], Decimal("48.00"))
    assert (await api.get("/api/routing/ledger", headers=receiver.headers)).json()["items"] == [entry]

    steps = [(e["step"], e["outcome"]) for e in done["timeline"]]
    assert steps[:3] == [("offer", "offered"), ("offer", "accepted"), ("customer", "syncing")]
    assert ("booking", "synced") in steps and ("follow", "completed") in steps
    # Search attributes let the Web UI and `temporal workflow list` find it.
    found = [
        w.id
        async for w in temporal.client.list_workflows(
            f'RoutingStatus="completed" AND ReceivingCompany="{receiver.id}" AND Provider="servicetitan"'
        )
    ]
    assert found == [f"routing:{summary['id']}"]


async def test_same_idempotency_key_returns_the_same_job(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    referrer = await world.company(api, admin_headers, "Referrer")
    headers = {**referrer.headers, "Idempotency-Key": "abc"}
    first = await api.post("/api/routing/jobs", json=world.job_body(2), headers=headers)
    again = await api.post("/api/routing/jobs", json=world.job_body(2), headers=headers)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["id"] == first.json()["id"] and again.headers["Idempotent-Replayed"] == "true"
    other = await api.post("/api/routing/jobs", json=world.job_body(3), headers=headers)
    assert other.status_code == 422 and "Idempotency-Key" in other.json()["title"]
    assert len((await api.get("/api/routing/jobs", headers=referrer.headers)).json()["items"]) == 1


async def test_no_candidate_says_why(api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str):
    referrer = await world.company(api, admin_headers, "Referrer")
    await world.receiver(
        api,
        admin_headers,
        emulator,
        "Roofer",
        referrer=referrer,
        profile={**world.PROFILE, "trades": ["roofing"]},
    )
    job_id = (await api.post("/api/routing/jobs", json=world.job_body(4), headers=referrer.headers)).json()[
        "id"
    ]

    async def reason() -> str | None:
        return (await api.get(f"/api/routing/jobs/{job_id}", headers=referrer.headers)).json()[
            "no_candidate_reason"
        ]

    text = await world.eventually(reason, what="no_candidate_reason")
    assert "no partner covers ZIP 94107 for plumbing" in text and "1 trade not offered" in text


async def test_retry_after_is_respected(api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str):
    referrer = await world.company(api, admin_headers, "Referrer")
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    path = rf"/crm/v2/tenant/{receiver.st_tenant}/booking-provider/77/bookings$"
    await world.fault(emulator, method="POST", path=path, status=429, retry_after=3, count=1)
    job_id = (await api.post("/api/routing/jobs", json=world.job_body(5), headers=referrer.headers)).json()[
        "id"
    ]
    [summary] = await world.routings_of(api, referrer.headers, job_id)
    await world.routing_in(api, referrer.headers, summary["id"], {"synced"})

    posts = await world.calls(emulator, method="POST", path=path)
    assert [c["status"] for c in posts] == [429, 200]
    assert posts[1]["time"] - posts[0]["time"] >= 3.0


async def test_bad_credentials_need_attention_then_retry_resumes_without_a_second_customer(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    referrer = await world.company(api, admin_headers, "Referrer")
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    # The customer step succeeds; then the booking endpoint refuses the credentials for good.
    path = rf"/crm/v2/tenant/{receiver.st_tenant}/booking-provider/77/bookings$"
    await world.fault(emulator, method="POST", path=path, status=403, count=1)
    job_id = (await api.post("/api/routing/jobs", json=world.job_body(6), headers=referrer.headers)).json()[
        "id"
    ]
    [summary] = await world.routings_of(api, referrer.headers, job_id)
    stuck = await world.routing_in(api, receiver.headers, summary["id"], {"needs_attention"})
    assert stuck["failed_step"] == "booking" and "403" in stuck["last_error"]

    retried = await api.post(f"/api/routing/routings/{summary['id']}/retry", headers=receiver.headers)
    assert retried.status_code == 200, retried.text
    await world.routing_in(api, receiver.headers, summary["id"], {"synced"})
    state = await world.emulator_state(emulator, receiver.st_tenant)
    assert (len(state["customers"]), len(state["bookings"])) == (1, 1)
    again = await api.post(f"/api/routing/routings/{summary['id']}/retry", headers=receiver.headers)
    assert again.status_code == 409


async def test_wrong_secret_needs_attention_until_the_connection_is_fixed(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    referrer = await world.company(api, admin_headers, "Referrer")
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    connection = (await api.get("/api/routing/connection", headers=receiver.headers)).json()
    wrong = {k: connection[k] for k in ("provider", "tenant_id", "client_id", "booking_provider_id")}
    await api.put(
        "/api/routing/connection", json={**wrong, "client_secret": "wrong"}, headers=receiver.headers
    )
    job_id = (await api.post("/api/routing/jobs", json=world.job_body(7), headers=referrer.headers)).json()[
        "id"
    ]
    [summary] = await world.routings_of(api, referrer.headers, job_id)
    stuck = await world.routing_in(api, receiver.headers, summary["id"], {"needs_attention"})
    assert stuck["failed_step"] == "customer" and stuck["last_error"]

    await api.put(
        "/api/routing/connection", json={**wrong, "client_secret": receiver.secret}, headers=receiver.headers
    )
    assert (
        await api.post(f"/api/routing/routings/{summary['id']}/retry", headers=referrer.headers)
    ).status_code == 200
    await world.routing_in(api, receiver.headers, summary["id"], {"synced"})
    state = await world.emulator_state(emulator, receiver.st_tenant)
    assert (len(state["customers"]), len(state["bookings"])) == (1, 1)


async def test_sequential_offer_decline_moves_on_and_cancel_ends_it(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str, routing_worker: list[Worker]
):
    referrer = await world.company(
        api, admin_headers, "Referrer", {"kind": "sequential", "accept_timeout": "PT1H"}
    )
    first = await world.receiver(api, admin_headers, emulator, "First", referrer=referrer)
    second = await world.receiver(api, admin_headers, emulator, "Second", referrer=referrer)
    job_id = (await api.post("/api/routing/jobs", json=world.job_body(8), headers=referrer.headers)).json()[
        "id"
    ]
    # Only the first receiver's routing exists: the next one is offered nothing until it passes.
    [offered_first] = await world.routings_of(api, referrer.headers, job_id)
    offered_to = first if offered_first["receiver_id"] == first.id else second
    other = second if offered_to is first else first
    await world.routing_in(api, offered_to.headers, offered_first["id"], {"offered"})
    assert (await api.get("/api/routing/routings", headers=other.headers)).json()["items"] == []
    # Only the receiver may answer, and the other company cannot even see the offer.
    accept_path = f"/api/routing/routings/{offered_first['id']}/accept"
    assert (await api.post(accept_path, headers=referrer.headers)).status_code == 403
    assert (
        await api.get(f"/api/routing/routings/{offered_first['id']}", headers=other.headers)
    ).status_code == 404
    declined = await api.post(
        f"/api/routing/routings/{offered_first['id']}/decline", headers=offered_to.headers
    )
    assert declined.json()["status"] == "declined"

    routings = await world.routings_of(api, referrer.headers, job_id, count=2)
    by_receiver = {r["receiver_id"]: r for r in routings}
    next_id = by_receiver[other.id]["id"]
    await world.routing_in(api, other.headers, next_id, {"offered"})
    accepted = await api.post(f"/api/routing/routings/{next_id}/accept", headers=other.headers)
    assert accepted.status_code == 200, accepted.text
    await world.routing_in(api, other.headers, next_id, {"synced"})
    canceled = await api.post(f"/api/routing/routings/{next_id}/cancel", headers=referrer.headers)
    assert canceled.json()["status"] == "canceled"
    assert (await api.get("/api/routing/ledger", headers=referrer.headers)).json()["items"] == []
    job = (await api.get(f"/api/routing/jobs/{job_id}", headers=referrer.headers)).json()
    assert job["status"] == "routed" and [r["status"] for r in job["routings"]] == ["declined", "canceled"]


async def test_bad_jobs_are_422_naming_the_field(api: httpx.AsyncClient, admin_headers: world.Headers):
    referrer = await world.company(api, admin_headers, "Referrer")
    body = world.job_body(9)
    cases = {
        "homeowner.phone": {**body, "homeowner": {"name": "No Contact"}},
        "address.zip": {**body, "address": {**body["address"], "zip": "9410"}},
        "homeowner.phone ": {**body, "homeowner": {**body["homeowner"], "phone": "555-01"}},
        "trade": {**body, "trade": "astrology"},
        "technician_id": {**body, "technician_id": "00000000-0000-0000-0000-000000000001"},
    }
    for field, bad in cases.items():
        response = await api.post("/api/routing/jobs", json=bad, headers=referrer.headers)
        assert response.status_code == 422, (field, response.text)
        assert field.strip() in [e["field"] for e in response.json()["errors"]], (field, response.json())
    assert (await api.get("/api/routing/jobs", headers=referrer.headers)).json()["items"] == []


async def test_jobs_and_routings_are_invisible_to_other_companies(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    referrer = await world.company(api, admin_headers, "Referrer")
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    stranger = await world.company(api, admin_headers, "Stranger")
    job_id = (await api.post("/api/routing/jobs", json=world.job_body(10), headers=referrer.headers)).json()[
        "id"
    ]
    [routing] = await world.routings_of(api, referrer.headers, job_id)
    path = f"/api/routing/routings/{routing['id']}"
    assert (await api.get(path, headers=receiver.headers)).status_code == 200
    assert (await api.get(f"/api/routing/jobs/{job_id}", headers=receiver.headers)).status_code == 404
    for request in (
        api.get(f"/api/routing/jobs/{job_id}", headers=stranger.headers),
        api.get(path, headers=stranger.headers),
        api.post(f"{path}/cancel", headers=stranger.headers),
        api.post(f"{path}/retry", headers=stranger.headers),
    ):
        assert (await request).status_code == 404
    for listing in ("/api/routing/jobs", "/api/routing/routings", "/api/routing/ledger"):
        assert (await api.get(listing, headers=stranger.headers)).json()["items"] == []
    assert (await api.get(path)).status_code == 401


async def test_a_job_temporal_did_not_take_is_not_kept(
    api: httpx.AsyncClient, admin_headers: world.Headers, settings: Settings
):
    referrer = await world.company(api, admin_headers, "Referrer")
    nowhere = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async for down in api_client(nowhere):
        refused = await down.post(
            "/api/routing/jobs", json=world.job_body(11), headers={**referrer.headers, "Idempotency-Key": "k"}
        )
        assert refused.status_code == 503 and "same Idempotency-Key" in refused.json()["detail"]
    assert (await api.get("/api/routing/jobs", headers=referrer.headers)).json()["items"] == []
    # The client retries with the same key once Temporal is back: the job is accepted then.
    accepted = await api.post(
        "/api/routing/jobs", json=world.job_body(11), headers={**referrer.headers, "Idempotency-Key": "k"}
    )
    assert accepted.status_code == 202
