"""Users, and connecting their Google account through the emulator's consent page: the consent
URL with PKCE and a sealed state; the callback stores the tokens sealed; a forged, expired or
used state is refused and changes nothing."""

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg

from api.routers.scheduling.google import State, _seal_state
from core.crypto import Cipher
from core.settings import Settings
from tests.platform.api_world import member
from tests.scheduling.google_world import connected


async def test_users_are_tenant_scoped_with_their_email_sealed(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    body = {"email": "Pat@Example.com", "name": "Pat Doe", "time_zone": "Europe/Berlin"}
    created = await api.post("/api/scheduling/users", json=body, headers=alice)
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["email"], user["time_zone"], user["google"]) == (
        "Pat@example.com",
        "Europe/Berlin",
        "not_connected",
    )
    again = await api.post("/api/scheduling/users", json={**body, "email": "pat@example.com"}, headers=alice)
    assert again.status_code == 409
    listed = (await api.get("/api/scheduling/users", headers=alice)).json()
    assert [u["id"] for u in listed["items"]] == [user["id"]]
    bob = await member(api, admin_headers, "bob")
    assert (await api.get(f"/api/scheduling/users/{user['id']}", headers=bob)).status_code == 404
    assert (await api.get("/api/scheduling/users", headers=bob)).json()["items"] == []
    for bad, field in (
        ({**body, "time_zone": "Mars/Olympus"}, "time_zone"),
        ({**body, "email": "nope"}, "email"),
    ):
        refused = await api.post("/api/scheduling/users", json=bad, headers=alice)
        assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == field
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        stored = conn.execute("SELECT sealed FROM scheduling_users").fetchone()
    assert stored is not None and b"Pat" not in stored[0]


async def test_connect_answers_a_consent_url_with_pkce_and_a_sealed_state(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    body = {"email": "pat@example.com", "name": "Pat"}
    user = (await api.post("/api/scheduling/users", json=body, headers=alice)).json()
    connect = await api.post(f"/api/scheduling/users/{user['id']}/google/connect", headers=alice)
    assert connect.status_code == 201, connect.text
    url = urlsplit(connect.json()["authorization_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == settings.google_oauth_auth_uri
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert query["response_type"] == "code" and query["access_type"] == "offline"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["client_id"] == settings.google_client_id
    assert query["redirect_uri"] == settings.google_redirect_uri
    assert "calendar" in query["scope"]
    # The verifier is stored sealed; the challenge is its S256.
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        [(flow_id, sealed)] = conn.execute("SELECT id, sealed_verifier FROM oauth_flows").fetchall()
    verifier = Cipher(settings.encryption_key or "").decrypt(sealed, flow_id.bytes).decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == challenge
    # Another tenant cannot start a flow for this user.
    bob = await member(api, admin_headers, "bob")
    assert (
        await api.post(f"/api/scheduling/users/{user['id']}/google/connect", headers=bob)
    ).status_code == 404

    callback = "/api/scheduling/google/callback"
    state = query["state"]
    forged = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
    for bad in (forged, "not-a-state", ""):
        refused = await api.get(callback, params={"code": "c", "state": bad})
        assert refused.status_code in (400, 422), refused.text
    cipher = Cipher(settings.encryption_key or "")
    expired = _seal_state(
        cipher,
        State(
            flow_id=flow_id,
            user_id=uuid.UUID(user["id"]),
            tenant_id=uuid.uuid4(),
            expires_at=datetime.now(UTC) - timedelta(seconds=1),
        ),
    )
    refused = await api.get(callback, params={"code": "c", "state": expired})
    assert refused.status_code == 400 and "too long" in refused.json()["detail"]
    with psycopg.connect(settings.database_url, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute("UPDATE oauth_flows SET used_at = now()")
    used = await api.get(callback, params={"code": "c", "state": state})
    assert used.status_code == 400 and "used already" in used.json()["detail"]
    # Nothing was connected by any of it.
    assert (await api.get(f"/api/scheduling/users/{user['id']}", headers=alice)).json()[
        "google"
    ] == "not_connected"


async def test_consent_then_callback_connects_the_user_and_keeps_the_tokens_sealed(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings
) -> None:
    alice = await member(api, admin_headers, "alice")
    user, params = await connected(api, alice, settings, f"pat-{uuid.uuid4().hex[:8]}@example.com")
    assert (await api.get(f"/api/scheduling/users/{user['id']}", headers=alice)).json()[
        "google"
    ] == "connected"
    # The same redirect again (a reload, a replay) finds its flow used up.
    replay = await api.get(
        "/api/scheduling/google/callback", params={"code": params["code"], "state": params["state"]}
    )
    assert replay.status_code == 400
    # Tokens at rest: ciphertext, and no endpoint shows them.
    with psycopg.connect(settings.database_url) as conn:  # type: ignore[arg-type]
        [(sealed,)] = conn.execute("SELECT sealed_tokens FROM google_connections").fetchall()
    tokens = Cipher(settings.encryption_key or "").decrypt(sealed, uuid.UUID(user["id"]).bytes).decode()
    refresh = json.loads(tokens)["refresh_token"]
    assert refresh.encode() not in sealed
    shown = await api.get(f"/api/scheduling/users/{user['id']}/calendars", headers=alice)
    assert refresh not in shown.text and refresh not in replay.text


async def test_a_connected_users_calendars_and_a_revoked_authorization(
    api: httpx.AsyncClient, admin_headers: dict[str, str], settings: Settings, emulator: str
) -> None:
    alice = await member(api, admin_headers, "alice")
    email = f"pat-{uuid.uuid4().hex[:8]}@example.com"
    user, _ = await connected(api, alice, settings, email)
    control = f"{emulator}/_control/google/users/{email}"
    async with httpx.AsyncClient() as http:
        made = await http.post(f"{control}/calendars", json={"summary": "Team", "time_zone": "Europe/Berlin"})
        assert made.status_code == 200, made.text
        path = f"/api/scheduling/users/{user['id']}/calendars"
        calendars = (await api.get(path, headers=alice)).json()
        assert {(c["summary"], c["time_zone"], c["selected"]) for c in calendars} == {
            (email, "UTC", False),  # the primary calendar, named after its owner
            ("Team", "Europe/Berlin", False),
        }
        bob = await member(api, admin_headers, "bob")
        assert (await api.get(path, headers=bob)).status_code == 404
        # Revoked at Google: the user must connect again, and says so, with no retry storm.
        assert (await http.post(f"{control}/revoke")).status_code == 200
        assert (await http.post(f"{control}/expire-access-tokens")).status_code == 200
        refused = await api.get(path, headers=alice)
        assert refused.status_code == 409 and "connect again" in refused.json()["detail"]
        assert (await api.get(f"/api/scheduling/users/{user['id']}", headers=alice)).json()["google"] == (
            "reauthorization_required"
        )
        again = await api.get(path, headers=alice)
        assert again.status_code == 409  # answered from the store, no call to Google
