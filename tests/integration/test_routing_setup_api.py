"""Routing setup through the API: companies, technicians, partnerships, profiles, provider connections.

Every endpoint is tenant-scoped: another company's rows are 404, a key whose tenant is not a
company is 403.
"""

import uuid
from typing import Any

import httpx
import psycopg

from core.settings import Settings
from core.temporal import cipher_from
from store.sealed import open_text

Headers = dict[str, str]

PROFILE: dict[str, Any] = {
    "trades": ["plumbing", "hvac"],
    "service_area": {"kind": "zip_codes", "zip_codes": ["94110", "94107"]},
    "business_hours": {
        "timezone": "America/Los_Angeles",
        "weekly": {"monday": [{"opens": "08:00:00", "closes": "17:00:00"}]},
    },
    "daily_capacity": 5,
}
ST_TENANT = "7001"
ST_CLIENT = "cid-routing-setup"
ST_SECRET = "st-secret-do-not-echo-42"


def bearer(key: str) -> Headers:
    return {"Authorization": f"Bearer {key}"}


async def create_company(api: httpx.AsyncClient, admin: Headers, name: str, **extra: Any) -> dict[str, Any]:
    created = await api.post("/api/routing/companies", json={"name": name, **extra}, headers=admin)
    assert created.status_code == 201, created.text
    return created.json()


async def company(api: httpx.AsyncClient, admin: Headers, name: str) -> tuple[str, Headers]:
    body = await create_company(api, admin, name)
    return body["id"], bearer(body["api_key"]["key"])


def field_errors(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["message"] for e in response.json()["errors"]}


# -- companies ------------------------------------------------------------------------------------


async def test_company_creation_returns_a_working_key(api: httpx.AsyncClient, admin_headers: Headers):
    created = await create_company(api, admin_headers, "Acme Plumbing")
    assert created["name"] == "Acme Plumbing"
    assert created["mode"] == {"kind": "fan_out", "fan_out_count": 3}
    key = created["api_key"]
    assert key["key"].startswith("tl_") and key["prefix"] == key["key"][:10]

    me = await api.get("/api/routing/companies/me", headers=bearer(key["key"]))
    assert me.status_code == 200, me.text
    assert me.json() == {k: created[k] for k in ("id", "name", "mode", "created_at")}

    keys = (await api.get(f"/api/admin/api-keys?tenant_id={created['id']}", headers=admin_headers)).json()
    assert [(k["id"], k["name"], k["role"]) for k in keys["items"]] == [(key["id"], "default", "member")]

    listed = (await api.get("/api/routing/companies", headers=admin_headers)).json()
    assert [c["id"] for c in listed["items"]] == [created["id"]]


async def test_company_rules(api: httpx.AsyncClient, admin_headers: Headers):
    created = await create_company(
        api, admin_headers, "Bolt Electric", mode={"kind": "sequential", "accept_timeout": "PT10M"}
    )
    assert created["mode"] == {"kind": "sequential", "accept_timeout": "PT10M"}
    member = bearer(created["api_key"]["key"])

    duplicate = await api.post(
        "/api/routing/companies", json={"name": "Bolt Electric"}, headers=admin_headers
    )
    assert duplicate.status_code == 409
    bad_mode = await api.post(
        "/api/routing/companies",
        json={"name": "Zero", "mode": {"kind": "fan_out", "fan_out_count": 0}},
        headers=admin_headers,
    )
    assert "mode.fan_out.fan_out_count" in field_errors(bad_mode)

    # Only an admin creates or lists companies; the admin itself is not a company.
    assert (await api.post("/api/routing/companies", json={"name": "X"}, headers=member)).status_code == 403
    assert (await api.get("/api/routing/companies", headers=member)).status_code == 403
    assert (await api.get("/api/routing/companies/me", headers=admin_headers)).status_code == 403

    patched = await api.patch(
        "/api/routing/companies/me",
        json={"name": "Bolt Electric Co", "mode": {"kind": "fan_out", "fan_out_count": 5}},
        headers=member,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["name"] == "Bolt Electric Co"
    assert patched.json()["mode"] == {"kind": "fan_out", "fan_out_count": 5}
    me = (await api.get("/api/routing/companies/me", headers=member)).json()
    assert (me["name"], me["mode"]["fan_out_count"]) == ("Bolt Electric Co", 5)
    tenants = (await api.get("/api/admin/tenants", headers=admin_headers)).json()["items"]
    assert "Bolt Electric Co" in [t["name"] for t in tenants]

    await create_company(api, admin_headers, "Taken Name")
    clash = await api.patch("/api/routing/companies/me", json={"name": "Taken Name"}, headers=member)
    assert clash.status_code == 409


async def test_member_key_of_a_non_company_tenant_is_403(api: httpx.AsyncClient, admin_headers: Headers):
    tenant = (await api.post("/api/admin/tenants", json={"name": "Plain"}, headers=admin_headers)).json()
    key = (
        await api.post(
            "/api/admin/api-keys",
            json={"tenant_id": tenant["id"], "name": "k", "role": "member"},
            headers=admin_headers,
        )
    ).json()["key"]
    for method, path in (("GET", "/companies/me"), ("GET", "/technicians"), ("GET", "/profile")):
        refused = await api.request(method, f"/api/routing{path}", headers=bearer(key))
        assert refused.status_code == 403, path
        assert refused.json()["title"] == "Not a routing company"

    unauthenticated = await api.get("/api/routing/technicians")
    assert unauthenticated.status_code == 401


# -- technicians ----------------------------------------------------------------------------------


async def test_technician_crud_and_isolation(api: httpx.AsyncClient, admin_headers: Headers):
    _, acme = await company(api, admin_headers, "Acme")
    _, other = await company(api, admin_headers, "Other")

    created = await api.post(
        "/api/routing/technicians",
        json={"name": " Ann Tech ", "phone": "(415) 555-0134", "email": "ann@acme.example"},
        headers=acme,
    )
    assert created.status_code == 201, created.text
    tech = created.json()
    assert (tech["name"], tech["phone"], tech["email"]) == ("Ann Tech", "+14155550134", "ann@acme.example")
    second = await api.post("/api/routing/technicians", json={"name": "Bob", "phone": ""}, headers=acme)
    assert second.status_code == 201 and second.json()["phone"] is None

    bad = await api.post(
        "/api/routing/technicians", json={"name": "C", "phone": "12", "email": "no-at-sign"}, headers=acme
    )
    errors = field_errors(bad)
    assert "10 digits" in errors["phone"] and "not a valid address" in errors["email"]

    first_page = (await api.get("/api/routing/technicians?limit=1", headers=acme)).json()
    assert [t["id"] for t in first_page["items"]] == [tech["id"]] and first_page["next_cursor"]
    cursor = first_page["next_cursor"]
    rest = (await api.get(f"/api/routing/technicians?limit=1&cursor={cursor}", headers=acme)).json()
    assert [t["id"] for t in rest["items"]] == [second.json()["id"]] and rest["next_cursor"] is None

    path = f"/api/routing/technicians/{tech['id']}"
    assert (await api.get(path, headers=acme)).json() == tech
    assert (await api.get(path, headers=other)).status_code == 404
    assert (await api.delete(path, headers=other)).status_code == 404
    assert (await api.get("/api/routing/technicians", headers=other)).json()["items"] == []
    assert (await api.get(path, headers=acme)).status_code == 200

    assert (await api.delete(path, headers=acme)).status_code == 204
    assert (await api.get(path, headers=acme)).status_code == 404
    assert (await api.get(f"/api/routing/technicians/{uuid.uuid4()}", headers=acme)).status_code == 404


# -- partnerships ---------------------------------------------------------------------------------


async def test_partnership_rules(api: httpx.AsyncClient, admin_headers: Headers):
    referrer_id, referrer = await company(api, admin_headers, "Referrer")
    receiver_id, receiver = await company(api, admin_headers, "Receiver")
    _, stranger = await company(api, admin_headers, "Stranger")
    fee = {"kind": "percent", "amount": "12.5"}

    created = await api.post(
        "/api/routing/partnerships", json={"receiver_id": receiver_id, "fee_terms": fee}, headers=referrer
    )
    assert created.status_code == 201, created.text
    partnership = created.json()
    assert partnership["referrer_id"] == referrer_id and partnership["receiver_id"] == receiver_id
    assert partnership["active"] is True and partnership["preferred_by_referrer"] is False
    assert partnership["fee_terms"] == {"kind": "percent", "amount": "12.5"}

    def attempt(receiver: str, terms: dict[str, Any] = fee) -> Any:
        return api.post(
            "/api/routing/partnerships", json={"receiver_id": receiver, "fee_terms": terms}, headers=referrer
        )

    self_partner = await attempt(referrer_id)
    assert field_errors(self_partner) == {"receiver_id": "a company cannot partner with itself"}
    assert self_partner.json()["detail"] == "Invalid value for: receiver_id"
    duplicate = await attempt(receiver_id)
    assert field_errors(duplicate) == {"receiver_id": "a partnership with this company already exists"}
    unknown = await attempt(str(uuid.uuid4()))
    assert list(field_errors(unknown)) == ["receiver_id"]
    negative = await attempt(receiver_id, {"kind": "flat", "amount": -5})
    assert "greater than or equal to 0" in field_errors(negative)["fee_terms.amount"]
    over_100 = await attempt(receiver_id, {"kind": "percent", "amount": 101})
    assert field_errors(over_100) == {"fee_terms.amount": "a percent fee cannot exceed 100"}

    path = f"/api/routing/partnerships/{partnership['id']}"
    assert (await api.get(path, headers=receiver)).json() == partnership
    assert (await api.get(path, headers=stranger)).status_code == 404
    assert (await api.patch(path, json={"active": False}, headers=stranger)).status_code == 404
    by_receiver = await api.patch(path, json={"active": False}, headers=receiver)
    assert by_receiver.status_code == 403
    assert by_receiver.json()["title"] == "Only the referrer may change a partnership"

    patched = await api.patch(
        path,
        json={"active": False, "preferred_by_referrer": True, "fee_terms": {"kind": "flat", "amount": 40}},
        headers=referrer,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["active"] is False and patched.json()["preferred_by_referrer"] is True
    assert patched.json()["fee_terms"] == {"kind": "flat", "amount": "40"}
    assert (await api.get(path, headers=receiver)).json()["fee_terms"]["amount"] == "40"

    async def listed(headers: Headers, role: str | None = None) -> list[str]:
        params = {"role": role} if role else {}
        page = await api.get("/api/routing/partnerships", params=params, headers=headers)
        assert page.status_code == 200, page.text
        return [p["id"] for p in page.json()["items"]]

    assert await listed(receiver) == [partnership["id"]]
    assert await listed(receiver, "receiver") == [partnership["id"]]
    assert await listed(receiver, "referrer") == []
    assert await listed(referrer, "referrer") == [partnership["id"]]
    assert await listed(stranger) == []
    bad_role = await api.get("/api/routing/partnerships?role=owner", headers=referrer)
    assert list(field_errors(bad_role)) == ["query.role"]


# -- routing profile ------------------------------------------------------------------------------


async def test_profile_put_get_and_validation(api: httpx.AsyncClient, admin_headers: Headers):
    _, acme = await company(api, admin_headers, "Acme")
    _, other = await company(api, admin_headers, "Other")

    missing = await api.get("/api/routing/profile", headers=acme)
    assert missing.status_code == 404 and missing.json()["title"] == "No routing profile yet"

    put = await api.put("/api/routing/profile", json=PROFILE, headers=acme)
    assert put.status_code == 200, put.text
    expected = {
        **PROFILE,
        "trades": ["hvac", "plumbing"],  # stored sorted and de-duplicated
        "service_area": {"kind": "zip_codes", "zip_codes": ["94107", "94110"]},
        "preferred_partner_ids": [],
        "excluded_partner_ids": [],
    }
    assert put.json() == expected
    assert (await api.get("/api/routing/profile", headers=acme)).json() == expected
    assert (await api.get("/api/routing/profile", headers=other)).status_code == 404

    paused = await api.put("/api/routing/profile", json={**PROFILE, "daily_capacity": 0}, headers=acme)
    assert paused.status_code == 200
    assert (await api.get("/api/routing/profile", headers=acme)).json()["daily_capacity"] == 0

    bad_zip = await api.put(
        "/api/routing/profile",
        json={**PROFILE, "service_area": {"kind": "zip_codes", "zip_codes": ["9410"]}},
        headers=acme,
    )
    # The location names the union member ("zip_codes") before the field and the index.
    assert "pattern" in field_errors(bad_zip)["service_area.zip_codes.zip_codes.0"]
    unknown_field = await api.put("/api/routing/profile", json={**PROFILE, "capacity": 3}, headers=acme)
    assert "capacity" in field_errors(unknown_field)
    # The rejected writes changed nothing.
    assert (await api.get("/api/routing/profile", headers=acme)).json()["daily_capacity"] == 0


# -- provider connection --------------------------------------------------------------------------


async def provision_servicetitan(emulator: str) -> None:
    async with httpx.AsyncClient(timeout=5.0) as http:
        assert (await http.post(f"{emulator}/_control/reset?provider=servicetitan")).status_code == 200
        created = await http.post(
            f"{emulator}/_control/servicetitan/tenants",
            json={"tenant_id": ST_TENANT, "client_id": ST_CLIENT, "client_secret": ST_SECRET},
        )
        assert created.status_code == 200, created.text


def connection_body(**changes: Any) -> dict[str, Any]:
    return {
        "provider": "servicetitan",
        "tenant_id": ST_TENANT,
        "client_id": ST_CLIENT,
        "client_secret": ST_SECRET,
        "booking_provider_id": "bp-1",
        **changes,
    }


async def test_connection_secret_is_sealed_and_never_returned(
    api: httpx.AsyncClient, admin_headers: Headers, settings: Settings
):
    acme_id, acme = await company(api, admin_headers, "Acme")
    _, other = await company(api, admin_headers, "Other")

    assert (await api.get("/api/routing/connection", headers=acme)).status_code == 404
    no_secret = await api.put(
        "/api/routing/connection", json=connection_body(client_secret=None), headers=acme
    )
    assert list(field_errors(no_secret)) == ["client_secret"]
    assert ST_SECRET not in no_secret.text

    put = await api.put("/api/routing/connection", json=connection_body(), headers=acme)
    assert put.status_code == 200, put.text
    assert ST_SECRET not in put.text and "client_secret" not in put.json()
    view = {k: v for k, v in put.json().items() if k != "updated_at"}
    assert view == {
        "provider": "servicetitan",
        "tenant_id": ST_TENANT,
        "client_id": ST_CLIENT,
        "booking_provider_id": "bp-1",
        "rate_limit_per_second": settings.routing_rate_limit_per_second,
        "client_secret_set": True,
    }
    got = await api.get("/api/routing/connection", headers=acme)
    assert got.json() == put.json() and ST_SECRET not in got.text

    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT client_secret FROM provider_connections WHERE company_id = %s", (acme_id,)
        ).fetchone()
    assert row is not None
    stored = bytes(row[0])
    assert ST_SECRET.encode() not in stored
    assert open_text(cipher_from(settings), uuid.UUID(acme_id), stored) == ST_SECRET

    # Updating without a secret keeps the stored one; the rest is replaced.
    kept = await api.put(
        "/api/routing/connection",
        json=connection_body(client_secret=None, booking_provider_id="bp-2", rate_limit_per_second=2.5),
        headers=acme,
    )
    assert kept.status_code == 200, kept.text
    assert (kept.json()["booking_provider_id"], kept.json()["rate_limit_per_second"]) == ("bp-2", 2.5)
    with psycopg.connect(settings.database_url) as conn:
        after = conn.execute(
            "SELECT client_secret FROM provider_connections WHERE company_id = %s", (acme_id,)
        ).fetchone()
    assert after is not None and bytes(after[0]) == stored

    for rate in (0, 0.000001, 61, -1):
        too = await api.put(
            "/api/routing/connection", json=connection_body(rate_limit_per_second=rate), headers=acme
        )
        assert list(field_errors(too)) == ["rate_limit_per_second"], rate
    wrong_provider = await api.put(
        "/api/routing/connection", json=connection_body(provider="jobber"), headers=acme
    )
    assert list(field_errors(wrong_provider)) == ["provider"]

    # Another company sees none of it.
    assert (await api.get("/api/routing/connection", headers=other)).status_code == 404
    assert (await api.post("/api/routing/connection/test", headers=other)).status_code == 404
    assert (await api.delete("/api/routing/connection", headers=other)).status_code == 404

    assert (await api.delete("/api/routing/connection", headers=acme)).status_code == 204
    assert (await api.get("/api/routing/connection", headers=acme)).status_code == 404
    assert (await api.post("/api/routing/connection/test", headers=acme)).status_code == 404


async def test_connection_test_against_the_emulator(
    api: httpx.AsyncClient, admin_headers: Headers, emulator: str
):
    await provision_servicetitan(emulator)
    _, acme = await company(api, admin_headers, "Acme")

    assert (await api.put("/api/routing/connection", json=connection_body(), headers=acme)).status_code == 200
    ok = await api.post("/api/routing/connection/test", headers=acme)
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"ok": True}

    wrong = connection_body(client_secret="not-the-secret")
    assert (await api.put("/api/routing/connection", json=wrong, headers=acme)).status_code == 200
    failed = await api.post("/api/routing/connection/test", headers=acme)
    assert failed.status_code == 200, failed.text
    assert failed.json()["ok"] is False
    reason = failed.json()["reason"]
    assert "invalid_client" in reason and "Unknown client or wrong secret" in reason
    assert "not-the-secret" not in failed.text
