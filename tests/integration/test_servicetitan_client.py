"""The ServiceTitan client over real HTTP against the emulator: tokens, idempotent creates, errors."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr
from temporalio.exceptions import ApplicationError

from clients.servicetitan import (
    Address,
    Connection,
    ServiceTitanClient,
    TokenCache,
    classify,
    outcome_unknown,
)
from tests.conftest import free_port

APP_KEY = "emulator-app-key"
TENANT = "123"
SECRET = "s3cret-value-never-logged"
ADDRESS = Address(street="1 Main St", city="Springfield", state="IL", zip="62701")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
async def conn(emulator: str, http: httpx.AsyncClient) -> Connection:
    assert (await http.post(f"{emulator}/_control/reset")).status_code == 200
    created = await http.post(
        f"{emulator}/_control/servicetitan/tenants",
        json={"tenant_id": TENANT, "client_id": "cid-123", "client_secret": SECRET},
    )
    assert created.status_code == 200, created.text
    return Connection(
        company_id=uuid.uuid4(),
        tenant_id=TENANT,
        client_id="cid-123",
        client_secret=SecretStr(SECRET),
        booking_provider_id="bp1",
    )


def make_client(
    emulator: str, http: httpx.AsyncClient, tokens: TokenCache | None = None
) -> ServiceTitanClient:
    return ServiceTitanClient(
        http,
        auth_url=f"{emulator}/servicetitan/auth",
        api_url=f"{emulator}/servicetitan/api",
        app_key=APP_KEY,
        tokens=tokens or TokenCache(),
    )


async def calls(http: httpx.AsyncClient, emulator: str, path: str, **extra: str) -> dict:
    params = {"provider": "servicetitan", "path": path, **extra}
    return (await http.get(f"{emulator}/_control/calls", params=params)).json()


async def state(http: httpx.AsyncClient, emulator: str) -> dict:
    return (await http.get(f"{emulator}/_control/servicetitan/tenants/{TENANT}/state")).json()


async def add_fault(http: httpx.AsyncClient, emulator: str, **spec: object) -> None:
    created = await http.post(f"{emulator}/_control/faults", json={"provider": "servicetitan", **spec})
    assert created.status_code == 201, created.text


async def test_token_fetched_once_across_many_concurrent_calls(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    client = make_client(emulator, http)
    await asyncio.gather(*(client.get_invoice_total(conn, 999) for _ in range(10)))
    await client.create_customer(conn, "Jane Doe", "555-010-0001", None, ADDRESS)
    assert (await calls(http, emulator, "connect/token", limit="0"))["count"] == 1


async def test_token_refreshed_once_after_revocation(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    client = make_client(emulator, http)
    await client.get_invoice_total(conn, 1)
    revoked = await http.post(f"{emulator}/_control/servicetitan/tenants/{TENANT}/revoke-tokens")
    assert revoked.json()["revoked"] == 1
    assert await client.get_invoice_total(conn, 1) is None
    assert (await calls(http, emulator, "connect/token", limit="0"))["count"] == 2
    invoice_calls = (await calls(http, emulator, "invoices"))["calls"]
    assert [c["status"] for c in invoice_calls] == [200, 401, 200]


async def test_401_after_fresh_token_raises_non_retryable(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    client = make_client(emulator, http)
    await add_fault(emulator=emulator, http=http, path="/jobs/", status=401, count=2)
    with pytest.raises(ApplicationError) as raised:
        await client.get_job(conn, 1)
    assert raised.value.non_retryable and raised.value.type == "ServiceTitanAuth"
    assert (await calls(http, emulator, "connect/token", limit="0"))["count"] == 2


async def direct_headers(http: httpx.AsyncClient, emulator: str) -> dict[str, str]:
    token = (
        await http.post(
            f"{emulator}/servicetitan/auth/connect/token",
            data={"grant_type": "client_credentials", "client_id": "cid-123", "client_secret": SECRET},
        )
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "ST-App-Key": APP_KEY}


async def someone_elses_customer(http: httpx.AsyncClient, emulator: str, name: str, *contacts: dict) -> int:
    """A customer the receiver's staff created: no external data of ours."""
    address = ADDRESS.model_dump(exclude_none=True)
    created = await http.post(
        f"{emulator}/servicetitan/api/crm/v2/tenant/{TENANT}/customers",
        headers=await direct_headers(http, emulator),
        json={"name": name, "address": address, "contacts": list(contacts), "locations": []},
    )
    assert created.status_code == 200, created.text
    return int(created.json()["id"])


async def test_created_customer_is_found_by_phone_or_email(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    client = make_client(emulator, http)
    created = await client.create_customer(conn, "Jane Doe", "+15550100001", "jane@example.com", ADDRESS)
    assert created.created
    assert await client.find_customers(conn, "(555) 010-0001", None) == [created.customer_id]
    assert await client.find_customers(conn, None, "JANE@example.com") == [created.customer_id]
    assert await client.find_customers(conn, "+15550100001", "jane@example.com") == [created.customer_id]
    assert await client.location_for(conn, created.customer_id, "Jane Doe", ADDRESS) == created.location_id
    snapshot = await state(http, emulator)
    assert len(snapshot["customers"]) == 1 and len(snapshot["locations"]) == 1
    contacts = {(c["type"], c["value"]) for c in snapshot["customers"][0]["contacts"]}
    assert contacts == {("Phone", "+15550100001"), ("Email", "jane@example.com")}


async def test_customer_search_trusts_no_filter_it_cannot_verify(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    """The real list has no email filter (ignored, so every customer comes back) and an
    undocumented phone match (the emulator matches digits anywhere): nothing unverified is used."""
    client = make_client(emulator, http)
    await someone_elses_customer(http, emulator, "First Customer", {"type": "Email", "value": "first@x.com"})
    await someone_elses_customer(http, emulator, "Extension", {"type": "Phone", "value": "555-010-0001 9"})
    assert await client.find_customers(conn, None, "jane@example.com") == []
    assert await client.find_customers(conn, "+15550100001", None) == []
    theirs = await someone_elses_customer(
        http, emulator, "Jane Doe", {"type": "MobilePhone", "value": "(555) 010-0001"}
    )
    assert await client.find_customers(conn, "+15550100001", "jane@example.com") == [theirs]


async def test_every_booking_with_the_external_id_is_found_oldest_first(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    client = make_client(emulator, http)
    assert await client.find_bookings(conn, "routing-1") == []
    first = await client.create_booking(
        conn, "routing-1", "Leaking water heater", "Jane Doe", phone="5550100001", address=ADDRESS
    )
    assert first.created and first.status == "Pending"
    # Another booking provider's booking with the same external id is not ours.
    other = conn.model_copy(update={"booking_provider_id": "bp2"})
    await client.create_booking(other, "routing-1", "s", "Jane Doe")
    assert [b.booking_id for b in await client.find_bookings(conn, "routing-1")] == [first.booking_id]
    second = await client.create_booking(conn, "routing-1", "Leaking water heater", "Jane Doe")
    found = await client.find_bookings(conn, "routing-1")
    assert [b.booking_id for b in found] == [first.booking_id, second.booking_id]
    assert not any(b.created for b in found)


async def test_invoice_total_sums_that_jobs_invoices_only(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    client = make_client(emulator, http)
    jobs = []
    for external_id, total in (("routing-a", 100.0), ("routing-b", 250.5)):
        booking = await client.create_booking(conn, external_id, "No heat", "Jane Doe")
        advanced = await http.post(
            f"{emulator}/_control/servicetitan/tenants/{TENANT}/bookings/{booking.booking_id}/advance",
            json={"status": "completed", "invoice_total": total},
        )
        jobs.append(advanced.json()["job"]["id"])
    assert await client.get_invoice_total(conn, jobs[0]) == Decimal("100.00")
    assert await client.get_invoice_total(conn, jobs[1]) == Decimal("250.50")


async def test_a_filter_matching_too_many_rows_is_refused(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    """A list that keeps saying hasMore is never read to its end, nor trusted."""
    page = {"page": 1, "pageSize": 200, "hasMore": True, "totalCount": None, "data": []}
    await add_fault(emulator=emulator, http=http, method="GET", path="/invoices$", status=200, body=page)
    with pytest.raises(ApplicationError) as raised:
        await make_client(emulator, http).get_invoice_total(conn, 5)
    assert raised.value.type == "ServiceTitanSearchTooBroad" and raised.value.non_retryable
    assert (await calls(http, emulator, "invoices", limit="0"))["count"] == 10


async def test_job_and_invoice_total(emulator: str, http: httpx.AsyncClient, conn: Connection):
    client = make_client(emulator, http)
    booking = await client.create_booking(conn, "routing-2", "No heat", "Jane Doe")
    advanced = await http.post(
        f"{emulator}/_control/servicetitan/tenants/{TENANT}/bookings/{booking.booking_id}/advance",
        json={"status": "completed", "invoice_total": 1234.5},
    )
    job_id = advanced.json()["job"]["id"]
    job = await client.get_job(conn, job_id)
    assert job.job_status == "Completed" and job.booking_id == booking.booking_id and job.completed_on
    assert await client.get_invoice_total(conn, job_id) == Decimal("1234.50")
    assert await client.get_invoice_total(conn, job_id + 1000) is None


async def _faulted(
    http: httpx.AsyncClient, emulator: str, conn: Connection, **spec: object
) -> httpx.Response:
    """A real response carrying a scripted fault (or the emulator's own answer without one)."""
    if spec:
        await add_fault(emulator=emulator, http=http, path="/jpm/", count=1, **spec)
    client = make_client(emulator, http)
    token = await client._token(conn)
    return await http.get(
        f"{emulator}/servicetitan/api/jpm/v2/tenant/{TENANT}/jobs/424242",
        headers={"Authorization": f"Bearer {token}", "ST-App-Key": APP_KEY},
    )


async def test_classify_rate_limited_with_retry_after(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    error = classify(await _faulted(http, emulator, conn, status=429, retry_after=3))
    assert not error.non_retryable and error.type == "ServiceTitanRateLimited"
    assert error.next_retry_delay == timedelta(seconds=3)
    assert "429" in error.message


async def test_classify_unavailable(emulator: str, http: httpx.AsyncClient, conn: Connection):
    error = classify(await _faulted(http, emulator, conn, status=503))
    assert not error.non_retryable and error.type == "ServiceTitanUnavailable"
    assert error.next_retry_delay is None
    error = classify(await _faulted(http, emulator, conn, status=500))
    assert not error.non_retryable and error.type == "ServiceTitanUnavailable" and "500" in error.message


async def test_classify_client_errors_are_non_retryable_with_reason(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    not_found = classify(await _faulted(http, emulator, conn))
    assert not_found.non_retryable and not_found.type == "ServiceTitanRejected"
    assert "404" in not_found.message and "Job not found." in not_found.message

    forbidden = classify(
        await _faulted(http, emulator, conn, status=403, body={"title": "Tenant not enabled"})
    )
    assert (
        forbidden.non_retryable and "403" in forbidden.message and "Tenant not enabled" in forbidden.message
    )

    client = make_client(emulator, http)
    with pytest.raises(ApplicationError) as raised:
        await client.create_customer(conn, "Jane", "5550100002", None, ADDRESS.model_copy(update={"zip": ""}))
    bad = raised.value
    assert bad.non_retryable and bad.type == "ServiceTitanRejected"
    assert "400" in bad.message and "address.zip" in bad.message and "zip field is required" in bad.message


async def test_rate_limit_raised_by_client_method(emulator: str, http: httpx.AsyncClient, conn: Connection):
    await add_fault(emulator=emulator, http=http, path="/invoices", status=429, retry_after=2, count=1)
    with pytest.raises(ApplicationError) as raised:
        await make_client(emulator, http).get_invoice_total(conn, 5)
    assert raised.value.next_retry_delay == timedelta(seconds=2) and not raised.value.non_retryable


async def test_bad_secret_is_non_retryable_and_never_echoed(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    client = make_client(emulator, http)
    await client.test_connection(conn)
    wrong = conn.model_copy(update={"client_secret": SecretStr("wrong-secret-xyz")})
    with pytest.raises(ApplicationError) as raised:
        await client.test_connection(wrong)
    error = raised.value
    assert error.non_retryable and error.type == "ServiceTitanAuth"
    assert "invalid_client" in error.message
    assert "wrong-secret-xyz" not in str(error) and SECRET not in str(error)
    assert "wrong-secret-xyz" not in repr(wrong)


async def test_timeout_is_retryable(emulator: str, conn: Connection):
    async with httpx.AsyncClient(timeout=0.2) as slow:
        await add_fault(emulator=emulator, http=slow, path="/jobs/", delay=1.0, count=1)
        client = make_client(emulator, slow)
        with pytest.raises(ApplicationError) as raised:
            await client.get_job(conn, 1)
    assert raised.value.type == "ServiceTitanTimeout" and not raised.value.non_retryable


async def _create_error(client: ServiceTitanClient, conn: Connection) -> ApplicationError:
    with pytest.raises(ApplicationError) as raised:
        await client.create_booking(conn, "routing-x", "s", "Jane Doe")
    return raised.value


async def test_which_failed_creates_may_have_been_applied(
    emulator: str, http: httpx.AsyncClient, conn: Connection
):
    client = make_client(emulator, http)
    path = "/booking-provider/bp1/bookings$"
    unknown = []
    for spec in (
        {"status": 429, "retry_after": 1},
        {"status": 503},
        {"status": 400},
        {"status": 500},
        {"status": 504},
        {"when": "after", "drop": True},
    ):
        await add_fault(emulator=emulator, http=http, method="POST", path=path, count=1, **spec)
        unknown.append(outcome_unknown(await _create_error(client, conn)))
    assert unknown == [False, False, False, True, True, True]
    async with httpx.AsyncClient(timeout=0.3) as impatient:
        await add_fault(
            emulator=emulator, http=http, method="POST", path=path, count=1, when="after", delay=1
        )
        assert outcome_unknown(await _create_error(make_client(emulator, impatient), conn))
    nobody = ServiceTitanClient(
        http, f"{emulator}/servicetitan/auth", f"http://127.0.0.1:{free_port()}", APP_KEY, TokenCache()
    )
    assert not outcome_unknown(await _create_error(nobody, conn))
