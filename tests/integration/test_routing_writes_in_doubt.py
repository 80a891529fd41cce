"""Routing against ServiceTitan writes whose outcome is unknown, end to end: a create that lands
after its answer was lost, and one homeowner reached by two jobs at once.

The worker here is the routing queue of the registry with one change: ServiceTitan's server
timeout (how long a lost create may still land) is 3 s instead of 100 s, so a test waits it out.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from core.settings import Settings
from tests.conftest import serving_routing
from tests.integration import routing_world as world

SERVER_TIMEOUT = timedelta(seconds=3)


@pytest.fixture
async def short_doubt_worker(
    settings: Settings, temporal: WorkflowEnvironment, clean_db: None
) -> AsyncIterator[list[Worker]]:
    short = settings.model_copy(
        update={"servicetitan_server_timeout_seconds": SERVER_TIMEOUT.total_seconds()}
    )
    async with serving_routing(short, temporal.client) as workers:
        yield workers


pytestmark = pytest.mark.usefixtures("short_doubt_worker")


async def test_a_booking_that_lands_after_its_answer_was_lost_is_made_once(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    """The create is answered 500 at once and applied 1.5 s later; the first retry (after 1 s)
    finds nothing, and must wait instead of booking again."""
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    await world.fault(
        emulator,
        method="POST",
        path="/booking-provider/.*/bookings$",
        when="late",
        status=500,
        apply_after=1.5,
    )
    posted = time.monotonic()
    created = await api.post("/api/routing/jobs", json=world.job_body(11), headers=referrer.headers)
    [summary] = await world.routings_of(api, referrer.headers, created.json()["id"])

    synced = await world.routing_in(api, receiver.headers, summary["id"], {"synced"}, wait=60)
    await asyncio.sleep(max(0.0, posted + 2.5 - time.monotonic()))  # the late create has landed
    bookings = (await world.emulator_state(emulator, receiver.st_tenant))["bookings"]
    assert [b["externalId"] for b in bookings] == [summary["id"]]
    assert synced["st_booking_id"] == bookings[0]["id"]
    lines = [(e["step"], e["outcome"], e.get("error") or "") for e in synced["timeline"]]
    assert any(step == "booking" and "may still land" in error for step, _, error in lines), lines
    assert not any(outcome == "duplicate" for _, outcome, _ in lines)


async def test_one_homeowner_by_phone_and_email_and_by_email_alone_is_one_customer(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    """Two jobs of one homeowner reach one receiver at once, one with phone and email, one with the
    email alone. Each customer create reaches ServiceTitan 3 s after it was sent, so that without
    a lock both share, the second searches before the first's customer exists, and creates too."""
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    await world.fault(emulator, method="POST", path="/customers$", delay=3.0)
    both = world.job_body(21)
    email_only = world.job_body(22)
    email_only["homeowner"] = {"name": both["homeowner"]["name"], "email": both["homeowner"]["email"]}
    posted = await asyncio.gather(
        *(api.post("/api/routing/jobs", json=body, headers=referrer.headers) for body in (both, email_only))
    )
    ids = [
        (await world.routings_of(api, referrer.headers, response.json()["id"]))[0]["id"]
        for response in posted
    ]
    synced = [await world.routing_in(api, receiver.headers, rid, {"synced"}, wait=60) for rid in ids]
    customers = (await world.emulator_state(emulator, receiver.st_tenant))["customers"]
    assert len(customers) == 1
    assert {s["st_customer_id"] for s in synced} == {customers[0]["id"]}


async def test_a_create_that_never_landed_is_sent_again_once_the_window_has_passed(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    await world.fault(emulator, method="POST", path="/booking-provider/.*/bookings$", status=500, count=1)
    created = await api.post("/api/routing/jobs", json=world.job_body(31), headers=referrer.headers)
    [summary] = await world.routings_of(api, referrer.headers, created.json()["id"])
    synced = await world.routing_in(api, receiver.headers, summary["id"], {"synced"}, wait=60)
    posts = await world.calls(emulator, method="POST", path=f"/{receiver.st_tenant}/booking-provider/")
    assert [c["status"] for c in posts] == [500, 200]
    assert posts[1]["time"] - posts[0]["time"] >= SERVER_TIMEOUT.total_seconds()
    [booking] = (await world.emulator_state(emulator, receiver.st_tenant))["bookings"]
    assert synced["st_booking_id"] == booking["id"]


async def test_a_customer_whose_create_answer_was_cut_off_is_found_not_made_again(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    await world.fault(emulator, method="POST", path="/customers$", when="after", drop=True, count=1)
    body = world.job_body(41)
    body["homeowner"].pop("phone")  # found again by our email key alone
    created = await api.post("/api/routing/jobs", json=body, headers=referrer.headers)
    [summary] = await world.routings_of(api, referrer.headers, created.json()["id"])
    synced = await world.routing_in(api, receiver.headers, summary["id"], {"synced"}, wait=60)
    [customer] = (await world.emulator_state(emulator, receiver.st_tenant))["customers"]
    assert synced["st_customer_id"] == customer["id"]
    posts = await world.calls(emulator, method="POST", path=f"/{receiver.st_tenant}/customers$")
    assert [c["status"] for c in posts] == [None]  # the one create, whose answer was cut off


async def test_bookings_made_twice_anyway_are_surfaced_and_the_oldest_used(
    api: httpx.AsyncClient, admin_headers: world.Headers, emulator: str
):
    """The first create lands 3.5 s late, after the 3 s window; the second is applied at once but
    its answer is lost, so the next attempt finds both."""
    referrer = await world.company(api, admin_headers, "Referrer", {"kind": "fan_out", "fan_out_count": 1})
    receiver = await world.receiver(api, admin_headers, emulator, "Receiver", referrer=referrer)
    path = f"/{receiver.st_tenant}/booking-provider/"
    await world.fault(emulator, method="POST", path=path, when="late", status=500, apply_after=3.5, count=1)
    await world.fault(emulator, method="POST", path=path, when="after", status=500, count=1)
    created = await api.post("/api/routing/jobs", json=world.job_body(51), headers=referrer.headers)
    [summary] = await world.routings_of(api, referrer.headers, created.json()["id"])
    synced = await world.routing_in(api, receiver.headers, summary["id"], {"synced"}, wait=60)
    bookings = sorted(b["id"] for b in (await world.emulator_state(emulator, receiver.st_tenant))["bookings"])
    assert len(bookings) == 2 and synced["st_booking_id"] == bookings[0]
    [line] = [e for e in synced["timeline"] if e["outcome"] == "duplicate"]
    assert line["step"] == "booking" and f"{bookings[0]}, {bookings[1]}; using {bookings[0]}" in line["error"]
