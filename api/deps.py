"""FastAPI dependencies: the database session, the Temporal client, the caller's identity."""

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.keys import Principal, authenticate
from api.middleware import note_tenant
from api.problems import ProblemError
from store.db import Database
from store.models import Role

_bearer = HTTPBearer(auto_error=False, description="Authorization: Bearer <api key>")


# Async, though they only read app state: FastAPI runs plain functions in a thread pool.
async def database(request: Request) -> Database:
    return request.app.state.database


async def temporal(request: Request) -> Client:
    return request.app.state.temporal


async def session(db: Annotated[Database, Depends(database)]) -> AsyncIterator[AsyncSession]:
    async with db.transaction() as s:
        yield s


# scope="function": the transaction commits when the endpoint returns, before the response is
# sent (a request-scoped yield dependency tears down after it). A client that has its 2xx sees
# its write committed; a commit that fails is that request's error, not a log line after a 2xx.
Session = Annotated[AsyncSession, Depends(session, scope="function")]


_UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}


async def api_key(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ProblemError(
            401, "Authentication required", "Send `Authorization: Bearer <api key>`.", _UNAUTHORIZED
        )
    return credentials.credentials


def invalid_key() -> ProblemError:
    return ProblemError(401, "Invalid API key", "The key is unknown or has been revoked.", _UNAUTHORIZED)


async def principal(
    request: Request, db: Annotated[Database, Depends(database)], key: Annotated[str, Depends(api_key)]
) -> Principal:
    # One statement on a connection of its own, given back at once: a route's session connects
    # only when the route uses it, so a route that commits on a connection of its own before
    # calling Temporal (creating a job) never holds two connections at a time.
    async with db.statements() as connection:
        found = await authenticate(connection, key)
    if found is None:
        raise invalid_key()
    note_tenant(request.scope, found.tenant_id)
    return found


async def admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if who.role != Role.admin:
        raise ProblemError(403, "Forbidden", "This endpoint requires an admin key.")
    return who


Caller = Annotated[Principal, Depends(principal)]
BearerKey = Annotated[str, Depends(api_key)]
Admin = Annotated[Principal, Depends(admin)]
Temporal = Annotated[Client, Depends(temporal)]


def idempotency_header(what: str) -> Any:
    """The optional `Idempotency-Key` header of a creating endpoint: the same key returns the
    `what` already created."""
    return Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description=f"Retry-safe creation: the same key returns the {what} already created",
        ),
    ]


def replayed_response(model: type, what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI answer of a creating endpoint to a request repeated with its Idempotency-Key."""
    return {
        200: {
            "model": model,
            "description": f"The same request again with its Idempotency-Key: the {what} it created",
            "headers": {"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}},
        }
    }


def same_request(stored_hash: str, request_hash: str, what: str) -> None:
    """An Idempotency-Key names one request: the same key with another body is refused."""
    if stored_hash != request_hash:
        raise ProblemError(
            422,
            "Idempotency-Key reused",
            f"This Idempotency-Key was already used for a different {what}; use a new key for a new {what}.",
        )


def replayed(response: Response) -> None:
    """The answer to a repeated request: 200 and the header that says so."""
    response.status_code = 200
    response.headers["Idempotent-Replayed"] = "true"
