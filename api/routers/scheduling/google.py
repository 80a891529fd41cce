"""Connecting a user's Google account: the authorization-code flow with PKCE.

`POST /api/scheduling/users/{id}/google/connect` opens a flow (its PKCE verifier sealed in
`oauth_flows`, expiring) and answers the consent URL; its `state` is the flow's id, the user and
the expiry sealed with the deployment's key (AES-GCM: a forged or altered state does not open).
Google sends the browser back to `GET /api/scheduling/google/callback?code&state`: the state is
what authenticates that request (it carries no API key). A state that does not open, has
expired, or whose flow was used already is refused with 400 and changes nothing; otherwise the
flow is used up, the code is exchanged at the token endpoint with the verifier, and the tokens
are stored sealed to the user (never returned by any endpoint).
"""

import base64
import contextlib
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from temporalio.service import RPCError

from api.deps import Caller, Session, Temporal
from api.problems import ERROR_RESPONSES, TEMPORAL_UNAVAILABLE, ProblemError, responses
from api.routers.scheduling.syncs import selected_calendars, stop_sync
from api.routers.scheduling.users import owned_user
from api.temporal_calls import reaching_temporal
from core.crypto import Cipher, DecryptionError
from core.settings import Settings
from domain.scheduling.oauth import SCOPES, GoogleTokens, authorization_url, pkce_pair
from domain.scheduling.sync import Signals, workflow_id
from store.db import Database
from store.scheduling import GoogleConnection, OAuthFlow
from store.sealed import open_model, open_text, seal_model, seal_text

router = APIRouter(prefix="/api/scheduling", tags=["scheduling: google"], responses=ERROR_RESPONSES)

FLOW_TTL = timedelta(minutes=10)
# The owner a state is sealed to: states are bound to this purpose, not to a row.
_STATE_OWNER = uuid.UUID("5f0c1a7e-0a11-4b1e-9b7d-57a7e0000001")


class State(BaseModel):
    flow_id: uuid.UUID
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    expires_at: datetime


class ConnectOut(BaseModel):
    authorization_url: str
    expires_at: datetime


class CallbackOut(BaseModel):
    user_id: uuid.UUID
    google: str


class DisconnectOut(BaseModel):
    user_id: uuid.UUID
    google: str
    # Whether Google confirmed the revocation (a token it no longer knows counts as revoked).
    revoked: bool
    calendars_stopped: int


def _seal_state(cipher: Cipher, state: State) -> str:
    return base64.urlsafe_b64encode(seal_model(cipher, _STATE_OWNER, state)).decode().rstrip("=")


def _open_state(cipher: Cipher, text: str) -> State:
    try:
        blob = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return open_model(cipher, _STATE_OWNER, blob, State)
    except (ValueError, DecryptionError, ValidationError):
        raise _refused("The state is not one this API issued.") from None


def _refused(detail: str) -> ProblemError:
    return ProblemError(400, "Authorization refused", f"{detail} Start again from connect.", retryable=False)


@router.post("/users/{user_id}/google/connect", status_code=201, response_model=ConnectOut)
async def connect(user_id: uuid.UUID, who: Caller, session: Session, request: Request) -> ConnectOut:
    await owned_user(session, who.tenant_id, user_id)
    settings: Settings = request.app.state.settings
    cipher: Cipher = request.app.state.cipher
    verifier, challenge = pkce_pair()
    flow_id, expires_at = uuid.uuid4(), datetime.now(UTC) + FLOW_TTL
    session.add(
        OAuthFlow(
            id=flow_id,
            tenant_id=who.tenant_id,
            user_id=user_id,
            expires_at=expires_at,
            sealed_verifier=seal_text(cipher, flow_id, verifier),
        )
    )
    await session.flush()
    state = _seal_state(
        cipher, State(flow_id=flow_id, user_id=user_id, tenant_id=who.tenant_id, expires_at=expires_at)
    )
    url = authorization_url(
        settings.google_oauth_auth_uri,
        client_id=settings.google_client_id,
        redirect_uri=settings.google_redirect_uri,
        state=state,
        challenge=challenge,
    )
    return ConnectOut(authorization_url=url, expires_at=expires_at)


@router.get(
    "/google/callback",
    response_model=CallbackOut,
    openapi_extra={"security": []},
    responses=responses(
        {
            400: "A state that is forged, expired or used, or a code Google refused",
            502: "Google's token endpoint failed",
        }
    ),
)
async def callback(
    code: str, state: str, session: Session, client: Temporal, request: Request
) -> CallbackOut:
    """Where Google sends the user back after consent (authenticated by `state`)."""
    cipher: Cipher = request.app.state.cipher
    opened, now = _open_state(cipher, state), datetime.now(UTC)
    if opened.expires_at <= now:
        raise _refused("The authorization took too long.")
    # Used up in the same statement that checks it: a replayed callback finds nothing.
    used = await session.execute(
        update(OAuthFlow)
        .where(
            OAuthFlow.id == opened.flow_id,
            OAuthFlow.used_at.is_(None),
            OAuthFlow.expires_at > now,
        )
        .values(used_at=now)
        .returning(OAuthFlow.sealed_verifier)
    )
    sealed_verifier = used.scalar()
    if sealed_verifier is None:
        raise _refused("This authorization was used already.")
    tokens = await _exchange(
        request.app.state.settings, code, open_text(cipher, opened.flow_id, sealed_verifier)
    )
    connected = insert(GoogleConnection).values(
        user_id=opened.user_id,
        tenant_id=opened.tenant_id,
        status="connected",
        scopes=list(SCOPES),
        sealed_tokens=seal_model(cipher, opened.user_id, tokens),
    )
    await session.execute(
        connected.on_conflict_do_update(
            index_elements=[GoogleConnection.user_id],
            set_={
                "status": "connected",
                "sealed_tokens": connected.excluded.sealed_tokens,
                "updated_at": now,
                "last_error": None,
            },
        )
    )
    calendars = await selected_calendars(session, opened.user_id)
    await session.commit()
    # Calendars that waited for this (reauthorization required) resume where they stopped.
    with reaching_temporal("The account is connected; its calendars resume at their next periodic sync."):
        for row in calendars:
            with contextlib.suppress(RPCError):  # not running: selecting it again starts it
                await client.get_workflow_handle(workflow_id(row.id)).signal(Signals.RECONNECTED)
    return CallbackOut(user_id=opened.user_id, google="connected")


@router.post(
    "/users/{user_id}/google/disconnect",
    response_model=DisconnectOut,
    responses={**responses({409: "The user's Google account is not connected"}), **TEMPORAL_UNAVAILABLE},
)
async def disconnect(
    user_id: uuid.UUID, who: Caller, session: Session, client: Temporal, request: Request
) -> DisconnectOut:
    """Stops the user's calendar syncs (their push channels stopped at Google), revokes the
    authorization at Google and forgets the tokens. Stored events are kept."""
    await owned_user(session, who.tenant_id, user_id)
    connection = await session.get(GoogleConnection, user_id)
    if connection is None or connection.status == "disconnected":
        raise ProblemError(409, "Not connected", "The user's Google account is not connected.")
    calendars = await selected_calendars(session, user_id)
    for row in calendars:
        row.selected = False
    await session.commit()
    # Channels are stopped with the user's tokens: before they are revoked.
    with reaching_temporal("The calendars are no longer chosen; send the request again to finish."):
        for row in calendars:
            await stop_sync(client, row)
    revoked = False
    if connection.sealed_tokens is not None:
        tokens = open_model(request.app.state.cipher, user_id, connection.sealed_tokens, GoogleTokens)
        revoked = await _revoke(request.app.state.settings, tokens.refresh_token)
    database: Database = request.app.state.database
    async with database.transaction() as forgetting:
        await forgetting.execute(
            update(GoogleConnection)
            .where(GoogleConnection.user_id == user_id)
            .values(status="disconnected", sealed_tokens=None, updated_at=datetime.now(UTC))
        )
    return DisconnectOut(
        user_id=user_id, google="disconnected", revoked=revoked, calendars_stopped=len(calendars)
    )


async def _revoke(settings: Settings, refresh_token: str) -> bool:
    """Google's revocation endpoint sits beside its token endpoint (oauth2.googleapis.com/revoke)."""
    revoke_uri = settings.google_oauth_token_uri.rsplit("/", 1)[0] + "/revoke"
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(revoke_uri, data={"token": refresh_token})
    except httpx.HTTPError:
        return False
    # 400 invalid_token: Google no longer knows it (revoked already), which is what was asked.
    return answer.status_code in (200, 400)


async def _exchange(settings: Settings, code: str, verifier: str) -> GoogleTokens:
    """The authorization code for tokens (RFC 6749 4.1.3 with RFC 7636's code_verifier)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": settings.google_redirect_uri,
        "client_id": settings.google_client_id,
        "client_secret": settings.google_client_secret.get_secret_value(),
        "code_verifier": verifier,
    }
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(settings.google_oauth_token_uri, data=form)
    except httpx.HTTPError as exc:
        raise ProblemError(
            502, "Google unavailable", f"The token endpoint could not be reached ({type(exc).__name__})."
        ) from None
    if answer.status_code == 400:
        raise _refused(f"Google refused the code ({answer.json().get('error', 'invalid_grant')}).")
    if answer.status_code != 200:
        raise ProblemError(502, "Google failed", f"The token endpoint answered {answer.status_code}.")
    body = answer.json()
    if not body.get("refresh_token"):
        raise _refused("Google granted no offline access (no refresh token).")
    return GoogleTokens(
        refresh_token=body["refresh_token"],
        access_token=body.get("access_token"),
        expires_at=datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in", 3600))),
    )
