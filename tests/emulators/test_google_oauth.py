"""OAuth 2.0 against the Google emulator with google-auth and plain HTTP for the redirect dance."""

from __future__ import annotations

import time

import httpx
import pytest
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request

from tests.emulators.google_client import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT_URI,
    SCOPES,
    authorize,
    code_from,
    connect,
    control,
    exchange,
    new_email,
    pkce,
)


def test_consent_redirects_with_code_and_state_and_pkce_is_verified(emulator: str) -> None:
    email = new_email()
    verifier, challenge = pkce()
    params = code_from(authorize(emulator, email, challenge, state="opaque-123"))
    assert params["state"] == "opaque-123" and params["code"]
    # A wrong verifier is refused; the code is still good for the right one, then never again.
    wrong = exchange(emulator, params["code"], "x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    assert exchange(emulator, params["code"], None).json()["error"] == "invalid_grant"
    ok = exchange(emulator, params["code"], verifier)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert body["refresh_token"] and body["access_token"] and body["scope"] == SCOPES[0]
    reused = exchange(emulator, params["code"], verifier)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


def test_consent_denied_and_bad_requests(emulator: str) -> None:
    base = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "response_type": "code", "scope": SCOPES[0]}
    denied = httpx.post(
        f"{emulator}/google/oauth2/auth", params={**base, "state": "s"}, data={"decision": "deny"}
    )
    assert denied.status_code == 302 and "error=access_denied" in denied.headers["location"]
    assert "state=s" in denied.headers["location"]
    unknown = httpx.get(f"{emulator}/google/oauth2/auth", params={**base, "client_id": "nope"})
    assert unknown.status_code == 401 and "invalid_client" in unknown.text
    # A client that registered its redirect URIs gets only those.
    control(
        emulator,
        "POST",
        "/clients",
        json={"client_id": "strict", "client_secret": "s", "redirect_uris": ["https://app.example/cb"]},
    )
    mismatch = httpx.get(f"{emulator}/google/oauth2/auth", params={**base, "client_id": "strict"})
    assert mismatch.status_code == 400 and "redirect_uri_mismatch" in mismatch.text
    # Token endpoint: wrong secret and unknown grant type, in RFC 6749's shape.
    token_uri = f"{emulator}/google/oauth2/token"
    wrong = httpx.post(
        token_uri,
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": CLIENT_ID,
            "client_secret": "bad",
        },
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    odd = httpx.post(
        token_uri, data={"grant_type": "password", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    assert odd.status_code == 400 and odd.json()["error"] == "unsupported_grant_type"


def test_refresh_then_invalid_grant_after_revocation(emulator: str) -> None:
    user = connect(emulator)
    old = user.credentials.token
    user.credentials.refresh(Request())
    assert user.credentials.token != old and user.credentials.valid
    assert control(emulator, "POST", f"/users/{user.email}/revoke").json() == {"revoked": 1}
    with pytest.raises(RefreshError) as caught:
        user.credentials.refresh(Request())
    assert "invalid_grant" in str(caught.value)
    # Revocation ends the access tokens of the grant too.
    headers = {"Authorization": f"Bearer {user.credentials.token}"}
    assert httpx.get(f"{emulator}/google/users/me/calendarList", headers=headers).status_code == 401


def test_revoke_endpoint(emulator: str) -> None:
    user = connect(emulator)
    revoke = f"{emulator}/google/oauth2/revoke"
    assert httpx.post(revoke, params={"token": user.credentials.refresh_token}).status_code == 200
    again = httpx.post(revoke, params={"token": user.credentials.refresh_token})
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
    with pytest.raises(RefreshError):
        user.credentials.refresh(Request())


def test_bearer_checked_on_every_call_and_expired_token_refreshed_by_the_client(emulator: str) -> None:
    missing = httpx.get(f"{emulator}/google/users/me/calendarList")
    assert missing.status_code == 401
    error = missing.json()["error"]
    assert error["code"] == 401 and error["errors"][0]["reason"] == "required"
    forged = httpx.get(f"{emulator}/google/users/me/calendarList", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401 and forged.json()["error"]["errors"][0] == {
        "domain": "global",
        "reason": "authError",
        "message": "Invalid Credentials",
        "locationType": "header",
        "location": "Authorization",
    }
    assert 'error="invalid_token"' in forged.headers["www-authenticate"]

    user = connect(emulator)
    before = _token_calls(emulator)
    assert control(emulator, "POST", f"/users/{user.email}/expire-access-tokens").json() == {"expired": 1}
    # google-auth still thinks its token valid: the 401 makes it refresh once and retry.
    listed = user.service.calendarList().list().execute()
    assert [c["id"] for c in listed["items"]] == [user.email]
    assert listed["items"][0]["primary"] is True
    assert _token_calls(emulator) == before + 1


def test_access_tokens_expire(emulator: str) -> None:
    control(
        emulator,
        "POST",
        "/clients",
        json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "access_token_ttl": 1},
    )
    try:
        user = connect(emulator)
        assert user.token_body["expires_in"] == 1
        headers = {"Authorization": f"Bearer {user.credentials.token}"}
        assert httpx.get(f"{emulator}/google/users/me/calendarList", headers=headers).status_code == 200
        time.sleep(1.1)
        assert httpx.get(f"{emulator}/google/users/me/calendarList", headers=headers).status_code == 401
    finally:
        control(emulator, "POST", "/clients", json={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})


def _token_calls(emulator: str) -> int:
    return control(emulator, "GET", "/stats").json()["calls"].get("oauth.token", {}).get("total", 0)
