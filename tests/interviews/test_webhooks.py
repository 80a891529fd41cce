"""Interview webhooks against the real stack: a receiver of the test's own (a small ASGI app on a
free port, served by uvicorn) gets the events an interview's processing makes, signed with the
subscription's secret, carrying ids and never personal data; it can be told to fail, and the
delivery log shows each attempt Temporal made."""

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from temporalio.testing import WorkflowEnvironment

from clients.refusals import retry_after_seconds
from core.settings import Settings
from domain.interviews.webhooks import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DeliveryOutcome,
    sign,
    verify,
)
from tests.conftest import free_port
from tests.integration.routing_world import eventually
from tests.interviews.conftest import FIXTURES, interview, interview_workers, tenant_with_interview

EVERY_EVENT = ["interview.transcribed", "interview.analyzed", "interview.failed"]
GUIDE = Path(__file__).parents[2] / "docs" / "interviews.md"


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records every request; answers each with the next scripted (status, headers), then 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode(): value.decode() for name, value in scope["headers"]}
        self.requests.append(Received(headers=headers, body=body, at=time.monotonic()))
        status, extra = self.answers.pop(0) if self.answers else (200, {})
        raw = [(name.encode(), value.encode()) for name, value in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": b"thanks"})

    async def received(self, count: int, wait: float = 60) -> list[Received]:
        async def enough() -> list[Received] | None:
            return self.requests if len(self.requests) >= count else None

        return await eventually(enough, wait, f"{count} requests at the receiver")


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    port = free_port()
    config = uvicorn.Config(receiver, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        receiver.url = f"http://127.0.0.1:{port}/hooks/tempoline"
        yield receiver
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with receiving() as running:
        yield running


@pytest.fixture
def webhook_settings(interview_settings: Settings) -> Settings:
    # Seconds apart, not the production minutes; three attempts.
    return interview_settings.model_copy(
        update={
            "interviews_webhook_retry_initial_seconds": 0.2,
            "interviews_webhook_retry_maximum_seconds": 5,
            "interviews_webhook_max_attempts": 3,
        }
    )


@pytest.fixture
async def processing(webhook_settings: Settings, temporal: WorkflowEnvironment) -> AsyncIterator[None]:
    async with interview_workers(webhook_settings, temporal.client, "InterviewWebhookDelivery"):
        yield


async def _subscribe(
    live: httpx.AsyncClient, headers: dict[str, str], url: str, events: list[str] = EVERY_EVENT
) -> dict[str, Any]:
    created = await live.post(
        "/api/interviews/webhooks", json={"url": url, "events": events}, headers=headers
    )
    assert created.status_code == 201, created.text
    return created.json()


async def _upload(live: httpx.AsyncClient, headers: dict[str, str], interview_id: str, fixture: str) -> None:
    data = (FIXTURES / fixture).read_bytes()
    uploaded = await live.post(f"/api/interviews/{interview_id}/recordings", content=data, headers=headers)
    assert uploaded.status_code == 201, uploaded.text


async def _deliveries(
    live: httpx.AsyncClient, headers: dict[str, str], subscription_id: str
) -> list[dict[str, Any]]:
    found = await live.get(f"/api/interviews/webhooks/{subscription_id}/deliveries", headers=headers)
    assert found.status_code == 200, found.text
    return found.json()["items"]


async def _settled(
    live: httpx.AsyncClient, headers: dict[str, str], subscription_id: str, status: str, attempts: int
) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        items = await _deliveries(live, headers, subscription_id)
        ready = items and items[0]["status"] == status and items[0]["attempts"] == attempts
        return items[0] if ready else None

    return await eventually(done, 60, f"a delivery {status} after {attempts} attempts")


async def test_an_analyzed_interview_sends_signed_events_that_carry_no_personal_data(
    live: httpx.AsyncClient, admin_headers: dict[str, str], receiver: Receiver, processing: None
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    subscription = await _subscribe(live, headers, receiver.url)
    assert subscription["secret"].startswith("whsec_") and subscription["active"]
    listed = (await live.get("/api/interviews/webhooks", headers=headers)).json()["items"]
    assert [s["id"] for s in listed] == [subscription["id"]] and "secret" not in listed[0]
    await _upload(live, headers, meeting["id"], "local-two-speakers.wav")

    got = await receiver.received(2, 180)
    events = [json.loads(r.body) for r in got]
    assert [e["type"] for e in events] == ["interview.transcribed", "interview.analyzed"], events
    for request in got:
        assert verify(subscription["secret"], request.headers, request.body)
        assert not verify("whsec_another", request.headers, request.body)
        assert not verify(subscription["secret"], request.headers, request.body.replace(b"}", b" }", 1))
        assert request.headers["content-type"] == "application/json"
    transcribed, analyzed = events
    analysis = (await live.get(f"/api/interviews/{meeting['id']}/analysis", headers=headers)).json()
    assert transcribed["data"]["interview_id"] == meeting["id"] == analyzed["data"]["interview_id"]
    assert (
        transcribed["data"]["transcript_id"] == analysis["transcript_id"] == analyzed["data"]["transcript_id"]
    )
    assert (
        analyzed["data"]["analysis_id"] == analysis["id"] and analyzed["data"]["score"] == analysis["score"]
    )
    assert analyzed["data"]["status"] == "analyzed"

    # No contact data, no interviewer, nothing that was said.
    transcript = (await live.get(f"/api/interviews/{meeting['id']}/transcript", headers=headers)).json()
    said = [s["text"].strip() for s in transcript["segments"]] + [
        e["quote"] for r in analysis["ratings"] for e in r["evidence"]
    ]
    # (Long enough not to be found by chance in ids.)
    private = ["Pat Doe", "pat@example.com", "010-2030", "Sam Lee", "sam@example.com", *said]
    for request in got:
        text = request.body.decode()
        assert not [p for p in private if len(p) >= 6 and p in text], text

    log = await _deliveries(live, headers, subscription["id"])
    assert [(d["event"], d["status"], d["attempts"]) for d in log] == [
        ("interview.analyzed", "delivered", 1),
        ("interview.transcribed", "delivered", 1),
    ]
    assert {d["id"] for d in log} == {r.headers[ID_HEADER.lower()] for r in got}
    assert [a["status_code"] for a in log[0]["attempt_log"]] == [200]


async def test_a_failing_receiver_is_retried_after_its_retry_after_until_delivered(
    live: httpx.AsyncClient, admin_headers: dict[str, str], receiver: Receiver, processing: None
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    subscription = await _subscribe(live, headers, receiver.url, ["interview.failed"])
    # The first answer asks for 2 s; the policy alone would wait 0.2 s, then 0.4 s.
    receiver.answers = [(500, {"Retry-After": "2"}), (500, {})]
    await _upload(live, headers, meeting["id"], "local-silence.wav")

    delivery = await _settled(live, headers, subscription["id"], "delivered", 3)
    assert [a["status_code"] for a in delivery["attempt_log"]] == [500, 500, 200]
    assert [a["number"] for a in delivery["attempt_log"]] == [1, 2, 3]
    assert delivery["last_status_code"] == 200 and delivery["delivered_at"]
    first, second, third = receiver.requests
    assert second.at - first.at >= 1.9, "Retry-After was not honoured"
    assert third.at - second.at < 1.9
    # The same bytes each time, each signed with its own timestamp.
    assert first.body == second.body == third.body
    assert len({r.headers[ID_HEADER.lower()] for r in receiver.requests}) == 1
    assert all(verify(subscription["secret"], r.headers, r.body) for r in receiver.requests)
    body = json.loads(first.body)
    assert body["type"] == "interview.failed" and body["data"]["status"] == "failed"
    assert "no speech" in body["data"]["failure"]

    # Another tenant sees none of it and can neither redeliver nor delete.
    other, _ = await tenant_with_interview(live, admin_headers, "globex")
    assert (await live.get("/api/interviews/webhooks", headers=other)).json()["items"] == []
    paths = [
        ("GET", f"/api/interviews/webhooks/{subscription['id']}/deliveries"),
        ("POST", f"/api/interviews/webhooks/deliveries/{delivery['id']}/redeliver"),
        ("DELETE", f"/api/interviews/webhooks/{subscription['id']}"),
    ]
    for method, path in paths:
        answer = await live.request(method, path, headers=other)
        assert answer.status_code == 404, (method, path, answer.text)
    assert len(await _deliveries(live, headers, subscription["id"])) == 1

    # Deleting the candidate deletes what was sent about their interview.
    gone = await live.delete(f"/api/interviews/candidates/{meeting['candidate_id']}", headers=headers)
    assert gone.status_code == 204
    assert await _deliveries(live, headers, subscription["id"]) == []


async def test_a_deleted_subscription_stops_its_delivery_under_way(
    live: httpx.AsyncClient,
    admin_headers: dict[str, str],
    receiver: Receiver,
    processing: None,
    temporal: WorkflowEnvironment,
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    subscription = await _subscribe(live, headers, receiver.url, ["interview.failed"])
    receiver.answers = [(503, {"Retry-After": "2"})]
    await _upload(live, headers, meeting["id"], "local-silence.wav")
    [first] = await receiver.received(1)
    deleted = await live.delete(f"/api/interviews/webhooks/{subscription['id']}", headers=headers)
    assert deleted.status_code == 204
    workflow_id = f"interview-webhook:{first.headers[ID_HEADER.lower()]}"
    handle = temporal.client.get_workflow_handle(workflow_id, result_type=DeliveryOutcome)
    outcome = await asyncio.wait_for(handle.result(), 30)
    assert (outcome.status, outcome.detail) == ("failed", "deleted") and len(receiver.requests) == 1


async def test_out_of_attempts_a_delivery_fails_and_redeliver_sends_the_same_body(
    live: httpx.AsyncClient, admin_headers: dict[str, str], receiver: Receiver, processing: None
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    subscription = await _subscribe(live, headers, receiver.url, ["interview.failed"])
    receiver.answers = [(503, {})] * 3
    await _upload(live, headers, meeting["id"], "local-silence.wav")
    failed = await _settled(live, headers, subscription["id"], "failed", 3)
    assert failed["last_error"].startswith("out of attempts") and "503" in failed["last_error"], failed

    # Redelivered: the receiver asks for time once, so the redelivery is still under way when a
    # second redeliver comes (refused), then it is delivered.
    receiver.answers = [(500, {"Retry-After": "3"})]
    redeliver = f"/api/interviews/webhooks/deliveries/{failed['id']}/redeliver"
    assert (await live.post(redeliver, headers=headers)).status_code == 202
    await receiver.received(4)
    again = await live.post(redeliver, headers=headers)
    assert again.status_code == 409 and "being delivered" in again.json()["detail"], again.text
    delivered = await _settled(live, headers, subscription["id"], "delivered", 5)
    assert [a["status_code"] for a in delivered["attempt_log"]] == [503, 503, 503, 500, 200]
    assert len({r.body for r in receiver.requests}) == 1 and len(receiver.requests) == 5

    # Delivered, it may be sent once more.
    assert (await live.post(redeliver, headers=headers)).status_code == 202
    await receiver.received(6)
    assert (await _settled(live, headers, subscription["id"], "delivered", 6))["last_error"] is None
    assert receiver.requests[-1].body == receiver.requests[0].body


async def test_a_receiver_that_answers_410_is_not_sent_anything_more(
    live: httpx.AsyncClient, admin_headers: dict[str, str], receiver: Receiver, processing: None
) -> None:
    headers, meeting = await tenant_with_interview(live, admin_headers, "acme")
    subscription = await _subscribe(live, headers, receiver.url, ["interview.failed"])
    receiver.answers = [(410, {})]
    await _upload(live, headers, meeting["id"], "local-silence.wav")
    gone = await _settled(live, headers, subscription["id"], "failed", 1)
    assert gone["last_status_code"] == 410 and "deactivated" in gone["last_error"]
    [listed] = (await live.get("/api/interviews/webhooks", headers=headers)).json()["items"]
    assert listed["active"] is False
    refused = await live.post(f"/api/interviews/webhooks/deliveries/{gone['id']}/redeliver", headers=headers)
    assert refused.status_code == 409 and "410" in refused.json()["detail"]

    # Another interview fails: nothing is made for the inactive subscription.
    later = await interview(live, headers, meeting["candidate_id"])
    await _upload(live, headers, later["id"], "local-silence.wav")

    async def ended() -> bool:
        found = (await live.get(f"/api/interviews/{later['id']}", headers=headers)).json()
        return found["status"] == "failed"

    await eventually(ended, 60, "the second interview failed")
    await asyncio.sleep(1)
    assert len(receiver.requests) == 1 and len(await _deliveries(live, headers, subscription["id"])) == 1


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "http://hooks.example.com/x", "events": EVERY_EVENT}, "https"),
        ({"url": "ftp://127.0.0.1/x", "events": EVERY_EVENT}, "https"),
        ({"url": "hooks.example.com/x", "events": EVERY_EVENT}, "https"),
        ({"url": "https://user:pw@hooks.example.com/x", "events": EVERY_EVENT}, "credentials"),
        ({"url": "https://hooks.example.com:99999/x", "events": EVERY_EVENT}, "port"),
        ({"url": "https://hooks.example.com/x", "events": []}, "at least 1"),
        ({"url": "https://hooks.example.com/x", "events": ["interview.created"]}, "interview.analyzed"),
        ({"url": "https://hooks.example.com/x", "events": ["interview.failed"] * 2}, "each event once"),
        ({"url": "https://hooks.example.com/x"}, "events"),
        ({"url": "https://hooks.example.com/x", "events": EVERY_EVENT, "secret": "mine"}, "secret"),
    ],
)
async def test_bad_subscriptions_are_refused_with_the_reason(
    live: httpx.AsyncClient, admin_headers: dict[str, str], body: dict[str, Any], reason: str
) -> None:
    refused = await live.post("/api/interviews/webhooks", json=body, headers=admin_headers)
    assert refused.status_code == 422 and reason in refused.text, refused.text


async def test_a_subscription_is_made_once_per_idempotency_key_and_deleted(
    live: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    keyed = {**admin_headers, "Idempotency-Key": "hook-1"}
    body = {"url": "https://hooks.example.com/tempoline", "events": ["interview.analyzed"]}
    first = await live.post("/api/interviews/webhooks", json=body, headers=keyed)
    again = await live.post("/api/interviews/webhooks", json=body, headers=keyed)
    assert (first.status_code, again.status_code) == (201, 200)
    # An answer lost on the way is asked again: the same secret.
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await live.post("/api/interviews/webhooks", json={**body, "events": EVERY_EVENT}, headers=keyed)
    assert other.status_code == 422
    local = {"url": "http://localhost:9/x", "events": ["interview.failed"]}
    assert (await live.post("/api/interviews/webhooks", json=local, headers=admin_headers)).status_code == 201
    path = f"/api/interviews/webhooks/{first.json()['id']}"
    assert (await live.delete(path, headers=admin_headers)).status_code == 204
    assert (await live.delete(path, headers=admin_headers)).status_code == 404
    assert (await live.get(f"{path}/deliveries", headers=admin_headers)).status_code == 404


def test_verify_accepts_only_a_fresh_signature_of_the_same_bytes() -> None:
    body, secret, now = b'{"id": 1}', "whsec_test", 1_800_000_000
    headers = {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(secret, now, body), ID_HEADER: "x"}
    assert verify(secret, headers, body, now=now + 299)
    assert verify(secret, {k.lower(): v for k, v in headers.items()}, body, now=now)
    assert not verify(secret, headers, body, now=now + 301)  # replayed later
    assert not verify(secret, headers, body + b" ", now=now)
    assert not verify(secret, {**headers, TIMESTAMP_HEADER: str(now + 1)}, body, now=now)
    assert not verify(secret, {TIMESTAMP_HEADER: str(now)}, body, now=now)
    # Several signatures (a key rotation): one valid is enough.
    rotated = {**headers, SIGNATURE_HEADER: f"v1=00 {headers[SIGNATURE_HEADER]}"}
    assert verify(secret, rotated, body, now=now)


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds({"retry-after": "7"}, now) == 7
    assert retry_after_seconds({"retry-after": "Mon, 30 Nov 2026 12:00:30 GMT"}, now) == 30
    assert retry_after_seconds({"retry-after": "Mon, 30 Nov 2026 11:00:00 GMT"}, now) == 0
    assert retry_after_seconds({"retry-after": "nan"}, now) is None
    assert retry_after_seconds({"retry-after": "soon"}, now) is None
    assert retry_after_seconds({}, now) is None


def test_the_verify_receivers_copy_from_the_guide_accepts_what_is_signed() -> None:
    [snippet] = [
        block
        for block in re.findall(r"^```python\n(.*?)^```$", GUIDE.read_text(), re.S | re.M)
        if "def verify" in block
    ]
    copied: dict[str, Any] = {}
    exec(snippet, copied)  # our own guide's code
    body, secret, now = b'{"id": 1}', "whsec_test", int(time.time())
    headers = {TIMESTAMP_HEADER: str(now), SIGNATURE_HEADER: sign(secret, now, body)}
    assert copied["verify"](secret, headers, body)
    assert not copied["verify"](secret, headers, body + b" ")
    assert not copied["verify"]("whsec_other", headers, body)
