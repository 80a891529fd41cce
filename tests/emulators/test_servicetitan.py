from __future__ import annotations

import asyncio

import httpx

from tests.emulators.conftest import API, AUTH, TENANT, get_token, headers, provision

CRM = f"{API}/crm/v2/tenant/{TENANT}"
ADDRESS = {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "country": "USA"}


async def test_token_flow(client: httpx.AsyncClient) -> None:
    await provision(client)
    form = {"grant_type": "client_credentials", "client_id": "cid-123", "client_secret": "secret"}
    r = await client.post(AUTH, data=form)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["access_token"]
    assert (await client.post(AUTH, data={**form, "client_secret": "wrong"})).json()[
        "error"
    ] == "invalid_client"
    assert (await client.post(AUTH, data={**form, "grant_type": "password"})).status_code == 400
    assert (await client.post(AUTH, json=form)).status_code == 400
    # HTTP Basic client authentication works too
    r = await client.post(AUTH, data={"grant_type": "client_credentials"}, auth=("cid-123", "secret"))
    assert r.status_code == 200
    # changing the secret through control: old secret rejected, old tokens still valid
    await provision(client, client_secret="rotated")
    assert (await client.post(AUTH, data=form)).status_code == 400
    assert (await client.get(f"{CRM}/customers", headers=headers(body["access_token"]))).status_code == 200
    assert await get_token(client, secret="rotated")


async def test_app_key_and_bearer_checks(client: httpx.AsyncClient, st: dict[str, str]) -> None:
    url = f"{CRM}/customers"
    token = st["Authorization"].split()[1]
    assert (await client.get(url, headers=st)).status_code == 200
    r = await client.get(url, headers={"Authorization": st["Authorization"]})
    assert r.status_code == 401
    assert (await client.get(url, headers=headers(token, app_key="bad"))).status_code == 401
    r = await client.get(url, headers={"ST-App-Key": "emulator-app-key"})
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    assert (await client.get(url, headers=headers("nope"))).status_code == 401
    # a token of another tenant's client -> 403; an unknown tenant -> 404
    await provision(client, tenant="456")
    other = headers(await get_token(client, tenant="456"))
    assert (await client.get(url, headers=other)).status_code == 403
    r = await client.get(f"{API}/crm/v2/tenant/999/customers", headers=st)
    assert r.status_code == 404 and r.json()["status"] == 404
    assert (await client.get(f"{API}/crm/v2/tenant/{TENANT}/nothing", headers=st)).status_code == 404


async def test_expired_and_revoked_tokens(client: httpx.AsyncClient) -> None:
    await provision(client, token_ttl=0.2)
    r = await client.post(
        AUTH, data={"grant_type": "client_credentials", "client_id": "cid-123", "client_secret": "secret"}
    )
    assert r.json()["expires_in"] == 1
    h = headers(r.json()["access_token"])
    assert (await client.get(f"{CRM}/customers", headers=h)).status_code == 200
    await asyncio.sleep(0.25)
    r = await client.get(f"{CRM}/customers", headers=h)
    assert r.status_code == 401 and "invalid_token" in r.headers["www-authenticate"]

    await provision(client, token_ttl=900)
    h = headers(await get_token(client))
    assert (await client.get(f"{CRM}/customers", headers=h)).status_code == 200
    r = await client.post(f"/_control/servicetitan/tenants/{TENANT}/revoke-tokens")
    assert r.json() == {"revoked": 2}
    assert (await client.get(f"{CRM}/customers", headers=h)).status_code == 401
    h = headers(await get_token(client))
    assert (await client.get(f"{CRM}/customers", headers=h)).status_code == 200


async def test_customers_search_and_create(client: httpx.AsyncClient, st: dict[str, str]) -> None:
    body = {
        "name": "Jane Doe",
        "type": "Residential",
        "address": ADDRESS,
        "contacts": [{"type": "Phone", "value": "(555) 123-4567"}, {"type": "Email", "value": "Jane@x.com"}],
        "locations": [{"name": "Home", "address": ADDRESS}],
    }
    r = await client.post(f"{CRM}/customers", headers=st, json=body)
    assert r.status_code == 200, r.text
    customer = r.json()
    assert customer["id"] > 0 and customer["name"] == "Jane Doe" and customer["type"] == "Residential"
    assert customer["locations"][0]["customerId"] == customer["id"]
    assert {c["type"] for c in customer["contacts"]} == {"Phone", "Email"}

    for params in (
        {"phone": "555-123-4567"},
        {"phone": "1234567"},  # the emulator matches the digits anywhere: clients must verify
        {"name": "jane doe"},
        {"zip": "62701"},
    ):
        page = (await client.get(f"{CRM}/customers", headers=st, params=params)).json()
        assert [c["id"] for c in page["data"]] == [customer["id"]], params
        assert page["page"] == 1 and page["pageSize"] == 50 and page["hasMore"] is False
        assert "contacts" not in page["data"][0]  # list rows carry no contacts, as the real API
    page = (await client.get(f"{CRM}/customers", headers=st, params={"phone": "5550000000"})).json()
    assert page["data"] == []
    contacts = (await client.get(f"{CRM}/customers/{customer['id']}/contacts", headers=st)).json()["data"]
    assert {c["value"] for c in contacts} == {"(555) 123-4567", "Jane@x.com"}
    page = (await client.get(f"{CRM}/customers", headers=st, params={"includeTotal": "true"})).json()
    assert page["totalCount"] == 1
    assert (await client.get(f"{CRM}/customers/{customer['id']}", headers=st)).json()["name"] == "Jane Doe"

    # location create
    r = await client.post(
        f"{CRM}/locations",
        headers=st,
        json={"customerId": customer["id"], "name": "Cabin", "address": ADDRESS},
    )
    assert r.status_code == 200 and r.json()["customerId"] == customer["id"]
    page = (await client.get(f"{CRM}/locations", headers=st, params={"customerId": customer["id"]})).json()
    assert [loc["name"] for loc in page["data"]] == ["Home", "Cabin"]
    r = await client.post(
        f"{CRM}/locations", headers=st, json={"customerId": 1, "name": "X", "address": ADDRESS}
    )
    assert r.status_code == 400 and "customerId" in r.json()["errors"]

    # paging
    for i in range(3):
        await client.post(f"{CRM}/customers", headers=st, json={"name": f"C{i}", "address": ADDRESS})
    page = (await client.get(f"{CRM}/customers", headers=st, params={"pageSize": 2, "page": 2})).json()
    assert page["page"] == 2 and len(page["data"]) == 2 and page["hasMore"] is False


async def test_validation_errors(client: httpx.AsyncClient, st: dict[str, str]) -> None:
    r = await client.post(
        f"{CRM}/customers", headers={**st, "Content-Type": "application/json"}, content=b"{nope"
    )
    assert r.status_code == 400
    err = r.json()
    assert set(err) == {"type", "title", "status", "traceId", "errors"} and err["status"] == 400
    r = await client.post(f"{CRM}/customers", headers=st, json={"address": {"street": "x"}})
    errors = r.json()["errors"]
    assert "name" in errors and "address.city" in errors and "address.zip" in errors
    r = await client.post(f"{CRM}/bookings", headers=st, json={"name": "x"})
    assert set(r.json()["errors"]) >= {"source", "summary", "externalId", "isFirstTimeClient"}
    stats = (await client.get(f"/_control/servicetitan/tenants/{TENANT}/stats")).json()
    assert stats["customers"] == 0 and stats["bookings"] == 0


def booking_body(external_id: str) -> dict:
    return {
        "source": "tempoline",
        "name": "Jane Doe",
        "summary": "Leaking water heater",
        "isFirstTimeClient": True,
        "customerType": "Residential",
        "externalId": external_id,
        "address": ADDRESS,
        "contacts": [{"type": "Phone", "value": "5551234567"}],
        "start": "2030-01-02T15:00:00Z",
    }


async def test_bookings_with_external_id(client: httpx.AsyncClient, st: dict[str, str]) -> None:
    url = f"{CRM}/booking-provider/77/bookings"
    r = await client.post(url, headers=st, json=booking_body("rt-1"))
    assert r.status_code == 200, r.text
    booking = r.json()
    assert booking["externalId"] == "rt-1" and booking["status"] == "Pending" and booking["jobId"] is None
    assert booking["bookingProviderId"] == "77"
    # Nothing documents externalId as unique: a second create makes a second booking.
    second = await client.post(url, headers=st, json=booking_body("rt-1"))
    assert second.status_code == 200 and second.json()["id"] != booking["id"]
    assert (await client.post(f"{CRM}/bookings", headers=st, json=booking_body("rt-1"))).status_code == 200

    found = (await client.get(url, headers=st, params={"externalId": "rt-1"})).json()["data"]
    assert [b["id"] for b in found] == [booking["id"], second.json()["id"]]
    found = (await client.get(f"{CRM}/bookings", headers=st, params={"externalId": "rt-1"})).json()["data"]
    assert len(found) == 3
    assert (await client.get(f"{CRM}/bookings", headers=st, params={"externalId": "zz"})).json()["data"] == []
    assert (await client.get(f"{CRM}/bookings/{booking['id']}", headers=st)).json()["id"] == booking["id"]
    assert (await client.get(f"{url}/{booking['id']}", headers=st)).status_code == 200
    assert (
        await client.get(f"{CRM}/booking-provider/78/bookings/{booking['id']}", headers=st)
    ).status_code == 404


async def test_progression_job_and_invoice(client: httpx.AsyncClient, st: dict[str, str]) -> None:
    booking = (await client.post(f"{CRM}/bookings", headers=st, json=booking_body("rt-2"))).json()
    advance = f"/_control/servicetitan/tenants/{TENANT}/bookings/{booking['id']}/advance"
    r = await client.post(advance, json={"status": "scheduled"})
    assert r.status_code == 200
    job_id = r.json()["job"]["id"]
    got = (await client.get(f"{CRM}/bookings/{booking['id']}", headers=st)).json()
    assert got["jobId"] == job_id and got["status"] == "Converted"
    job_url = f"{API}/jpm/v2/tenant/{TENANT}/jobs/{job_id}"
    assert (await client.get(job_url, headers=st)).json()["jobStatus"] == "Scheduled"

    await client.post(advance, json={"status": "in_progress"})
    assert (await client.get(job_url, headers=st)).json()["jobStatus"] == "InProgress"
    r = await client.post(advance, json={"status": "completed", "invoice_total": 1234.5})
    assert r.json()["job"]["id"] == job_id
    job = (await client.get(job_url, headers=st)).json()
    assert job["jobStatus"] == "Completed" and job["completedOn"] and job["bookingId"] == booking["id"]

    inv_url = f"{API}/accounting/v2/tenant/{TENANT}/invoices"
    for params in ({"jobId": job_id}, {"jobNumber": str(job_id)}):
        invoices = (await client.get(inv_url, headers=st, params=params)).json()["data"]
        assert len(invoices) == 1 and invoices[0]["total"] == "1234.50" and invoices[0]["job"]["id"] == job_id
    assert (await client.get(inv_url, headers=st, params={"jobId": 1})).json()["data"] == []

    other = (await client.post(f"{CRM}/bookings", headers=st, json=booking_body("rt-3"))).json()
    r = await client.post(
        f"/_control/servicetitan/tenants/{TENANT}/bookings/{other['id']}/advance", json={"status": "canceled"}
    )
    assert r.json()["job"]["jobStatus"] == "Canceled"
    assert (await client.post(advance, json={"status": "bogus"})).status_code == 400
    stats = (await client.get(f"/_control/servicetitan/tenants/{TENANT}/stats")).json()
    assert stats["bookings"] == 2 and stats["jobs"] == 2 and stats["invoices"] == 2
    # jobIds is no filter of the real invoice list: ignored, so every invoice comes back
    invoices = (await client.get(inv_url, headers=st, params={"jobIds": str(job_id)})).json()["data"]
    assert len(invoices) == 2


async def test_rate_limit_and_max_per_second(client: httpx.AsyncClient) -> None:
    await provision(client, rate_limit_per_second=5)
    h = headers(await get_token(client))
    rs = await asyncio.gather(*(client.get(f"{CRM}/customers", headers=h) for _ in range(8)))
    statuses = sorted(r.status_code for r in rs)
    assert statuses == [200] * 5 + [429] * 3
    limited = next(r for r in rs if r.status_code == 429)
    assert int(limited.headers["retry-after"]) >= 1 and limited.json()["status"] == 429
    stats = (await client.get(f"/_control/servicetitan/tenants/{TENANT}/stats")).json()
    assert stats["max_per_second"] == 8 and stats["max_admitted_per_second"] == 5
    assert stats["requests"] == 8 and stats["rate_limited"] == 3
    # the token endpoint is not rate limited
    for _ in range(3):
        await get_token(client)
    await asyncio.sleep(1.05)
    assert (await client.get(f"{CRM}/customers", headers=h)).status_code == 200


async def test_unknown_filters_are_ignored_as_the_real_api_does(
    client: httpx.AsyncClient, st: dict[str, str]
) -> None:
    for name in ("Jane", "John"):
        body = {"name": name, "address": ADDRESS, "contacts": [{"type": "Email", "value": f"{name}@x.com"}]}
        assert (await client.post(f"{CRM}/customers", headers=st, json=body)).status_code == 200
    page = (await client.get(f"{CRM}/customers", headers=st, params={"email": "john@x.com"})).json()
    assert [c["name"] for c in page["data"]] == ["Jane", "John"]


async def test_customer_external_data_is_searchable_by_its_application_guid(
    client: httpx.AsyncClient, st: dict[str, str]
) -> None:
    guid = "6f1c1a52-0d6e-4d0e-9f57-0b7b8d1f2a11"
    external = {"applicationGuid": guid.upper(), "externalData": [{"key": "k", "value": "v1"}]}
    body = {"name": "Jane", "address": ADDRESS, "externalData": external}
    created = (await client.post(f"{CRM}/customers", headers=st, json=body)).json()
    assert created["externalData"] == [{"key": "k", "value": "v1"}]
    await client.post(f"{CRM}/customers", headers=st, json={"name": "John", "address": ADDRESS})
    search = {"externalDataApplicationGuid": guid, "externalDataKey": "k", "externalDataValues": "v0,v1"}
    page = (await client.get(f"{CRM}/customers", headers=st, params=search)).json()
    assert [c["id"] for c in page["data"]] == [created["id"]]
    assert page["data"][0]["externalData"] == [{"key": "k", "value": "v1"}]
    # another application's guid sees neither the data nor a match
    other = {**search, "externalDataApplicationGuid": "00000000-0000-0000-0000-000000000001"}
    assert (await client.get(f"{CRM}/customers", headers=st, params=other)).json()["data"] == []
    got = (await client.get(f"{CRM}/customers/{created['id']}", headers=st)).json()
    assert got["externalData"] is None
    bad = {**body, "externalData": {"applicationGuid": "nope", "externalData": []}}
    r = await client.post(f"{CRM}/customers", headers=st, json=bad)
    assert r.status_code == 400 and "externalData.applicationGuid" in r.json()["errors"]
