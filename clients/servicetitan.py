"""A thin async ServiceTitan client (ServiceTitan has no Python SDK, so ``httpx``).

Routing activities use it against the real API or ``emulators/`` (see docs/emulators.md for the wire
shapes). It never retries in a loop and never sleeps: failures become ``ApplicationError``s through
:func:`classify` and Temporal's retry policy retries the activity. The one exception is a 401 on an
API call, answered by dropping the cached token and trying once more with a fresh one.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

import httpx
from pydantic import BaseModel, SecretStr
from temporalio.exceptions import ApplicationError

from core.crypto import Cipher
from core.settings import Settings
from store.sealed import open_text

REFRESH_MARGIN_SECONDS = 60.0
MAX_REASON_CHARS = 500


# tempoline's application guid for ServiceTitan external data. Customers it creates carry their
# contact keys under it, so a later search by those keys finds them: the customer list has a
# phone filter but no email filter (tenant-crm-v2 Customers_GetList).
APPLICATION_GUID = "5d0c6f7e-2b1a-4c8e-9f3d-7a6b5c4d3e21"
PHONE_KEY = "tempoline.phone"
EMAIL_KEY = "tempoline.email"

# Lists are read in pages of PAGE_SIZE, at most MAX_PAGES of them: a filter the real API has
# returns a few rows; one that returns more than this is no lookup we can trust.
PAGE_SIZE = 200
MAX_PAGES = 10

# (auth_url, company id, client_id, SHA-256 of the client secret): everything that identifies
# the credential, so a company that types another's tenant and client id gets no token of theirs.
TokenKey = tuple[str, uuid.UUID, str, str]

# Requests per second to one ServiceTitan tenant: the provider publishes 60 per app and tenant,
# the cap of every tenant's shared budget; a connection may ask for less, down to the floor (a
# slower rate would let a handful of calls hold its queue for minutes).
MAX_RATE_PER_SECOND = 60.0
MIN_RATE_PER_SECOND = 0.1


class Connection(BaseModel):
    """One ServiceTitan tenant's credentials, as stored per routing customer."""

    company_id: uuid.UUID
    tenant_id: str
    client_id: str
    client_secret: SecretStr
    booking_provider_id: str
    # The most API calls per second tempoline may make to this tenant, across all workers.
    rate_limit_per_second: float | None = None


class StoredConnection(Protocol):
    """A provider_connections row: the ORM object, or a Core row of its columns."""

    company_id: uuid.UUID
    st_tenant_id: str
    client_id: str
    client_secret: bytes
    booking_provider_id: str
    rate_limit_per_second: float


def stored_connection(row: StoredConnection, cipher: Cipher) -> Connection:
    """A receiving company's stored connection, its secret decrypted (DecryptionError if it
    cannot be, e.g. after its key was rotated out)."""
    return Connection(
        company_id=row.company_id,
        tenant_id=row.st_tenant_id,
        client_id=row.client_id,
        client_secret=SecretStr(open_text(cipher, row.company_id, row.client_secret)),
        booking_provider_id=row.booking_provider_id,
        rate_limit_per_second=row.rate_limit_per_second,
    )


class Address(BaseModel):
    street: str
    unit: str | None = None
    city: str
    state: str
    zip: str
    country: str | None = None


class CustomerRef(BaseModel):
    customer_id: int
    location_id: int
    created: bool
    # Other customers that match the homeowner as well (ids, oldest first): duplicates to surface.
    duplicates: list[int] = []


class BookingRef(BaseModel):
    booking_id: int
    status: str | None = None
    job_id: int | None = None
    created: bool
    duplicates: list[int] = []


def phone_key(phone: str) -> str:
    """A phone number as ServiceTitan contacts are compared here: its last ten digits."""
    only = "".join(c for c in phone if c.isdigit())
    return only[-10:]


def email_key(email: str) -> str:
    return email.strip().lower()


class Job(BaseModel):
    id: int
    job_status: str | None = None
    completed_on: str | None = None
    customer_id: int | None = None
    location_id: int | None = None
    booking_id: int | None = None
    invoice_id: int | None = None


# -- error classification -------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> timedelta | None:
    raw = response.headers.get("retry-after")
    if raw is None:
        return None
    try:
        seconds = float(raw.strip())
    except ValueError:
        return None  # an HTTP-date: let Temporal's retry policy choose the delay
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return timedelta(seconds=seconds)


def _reason(response: httpx.Response) -> str:
    """The provider's words: ProblemDetails ``title``/``errors`` or OAuth ``error_description``."""
    try:
        body = response.json()
    except ValueError:
        body = None
    parts: list[str] = []
    if isinstance(body, dict):
        if body.get("error"):
            parts.append(str(body["error"]))
        if body.get("error_description"):
            parts.append(str(body["error_description"]))
        if body.get("title"):
            parts.append(str(body["title"]))
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            fields = "; ".join(
                f"{key}: {' '.join(map(str, msgs)) if isinstance(msgs, list) else msgs}"
                for key, msgs in errors.items()
            )
            parts.append(f"errors: {fields}")
    if not parts:
        text = response.text.strip() if response.content else ""
        parts.append(text or response.reason_phrase or "no reason given")
    reason = " - ".join(parts)
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 3] + "..."


def _where(response: httpx.Response) -> str:
    try:
        request = response.request
    except RuntimeError:
        return "ServiceTitan"
    # the path only: the query can carry a phone number or an email address
    return f"ServiceTitan {request.method} {request.url.path}"


def classify(response: httpx.Response) -> ApplicationError:
    """Turns a failed ServiceTitan response into the ``ApplicationError`` an activity raises.

    The message names the status and the provider's reason; it is built from the response only, so it
    cannot carry the client secret or the access token.
    """
    status = response.status_code
    message = f"{_where(response)} answered {status}: {_reason(response)}"
    if status in (429, 503):
        kind = "ServiceTitanRateLimited" if status == 429 else "ServiceTitanUnavailable"
        return ApplicationError(
            message, {"status": status}, type=kind, next_retry_delay=_retry_after(response)
        )
    if status >= 500:
        return ApplicationError(message, {"status": status}, type="ServiceTitanUnavailable")
    if status in (401, 403):
        return ApplicationError(message, {"status": status}, type="ServiceTitanAuth", non_retryable=True)
    if status == 400 and _is_oauth_error(response):
        return ApplicationError(message, {"status": status}, type="ServiceTitanAuth", non_retryable=True)
    return ApplicationError(message, {"status": status}, type="ServiceTitanRejected", non_retryable=True)


def _is_oauth_error(response: httpx.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and "error" in body and "title" not in body


# Transport failures that happen before a request leaves: nothing reached ServiceTitan.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def _transport_error(method: str, path: str, exc: httpx.TransportError) -> ApplicationError:
    detail = type(exc).__name__ + (f": {exc}" if str(exc) else "")
    return ApplicationError(
        f"ServiceTitan {method} {path} failed: {detail}",
        {"sent": not isinstance(exc, _NOT_SENT)},
        type="ServiceTitanTimeout",
    )


def outcome_unknown(error: ApplicationError) -> bool:
    """Whether a write that failed with `error` may have been applied all the same.

    ServiceTitan answered 4xx, 429 or 503 ("unable to handle the request", RFC 9110): not applied.
    A 500, 502, 504, a request sent and then timed out or cut off, a success we could not read: it
    may have been, now or later (up to ServiceTitan's server timeout after it was sent).
    """
    detail = error.details[0] if error.details and isinstance(error.details[0], dict) else {}
    if error.type == "ServiceTitanTimeout":
        return bool(detail.get("sent", True))
    if error.type == "ServiceTitanUnavailable":
        return detail.get("status") != 503
    return error.type == "ServiceTitanMalformedResponse"


def _malformed(response: httpx.Response) -> ApplicationError:
    return ApplicationError(
        f"{_where(response)} answered {response.status_code} with a body that is not the expected JSON",
        {"status": response.status_code},
        type="ServiceTitanMalformedResponse",
    )


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise _malformed(response) from exc


# -- tokens ---------------------------------------------------------------------------------------


class TokenCache:
    """Access tokens shared by every activity of the process, keyed by ``TokenKey``.

    A token is reused until ``REFRESH_MARGIN_SECONDS`` before its ``expires_in`` ends. One
    ``asyncio.Lock`` per key makes concurrent activities fetch a missing token once.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        margin_seconds: float = REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._clock = clock
        self._margin = margin_seconds
        self._tokens: dict[TokenKey, tuple[str, float]] = {}
        self._locks: dict[TokenKey, asyncio.Lock] = {}

    async def get(self, key: TokenKey, fetch: Callable[[], Awaitable[tuple[str, float]]]) -> str:
        """The cached token, or a new one from ``fetch() -> (access_token, expires_in seconds)``."""
        cached = self._fresh(key)
        if cached is not None:
            return cached
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._fresh(key)
            if cached is not None:
                return cached
            token, expires_in = await fetch()
            self._tokens[key] = (token, self._clock() + max(0.0, expires_in - self._margin))
            return token

    def invalidate(self, key: TokenKey, token: str | None = None) -> None:
        """Drops the key's token; with ``token``, only if it is still that one (a concurrent
        refresh already replaced it otherwise)."""
        current = self._tokens.get(key)
        if current is not None and (token is None or current[0] == token):
            del self._tokens[key]

    def _fresh(self, key: TokenKey) -> str | None:
        current = self._tokens.get(key)
        if current is not None and self._clock() < current[1]:
            return current[0]
        return None


TOKENS = TokenCache()
"""The process-wide cache workers pass to every ``ServiceTitanClient``."""


# -- client ---------------------------------------------------------------------------------------


class ServiceTitanClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        auth_url: str,
        api_url: str,
        app_key: str,
        tokens: TokenCache,
        throttle: Callable[[Connection], Awaitable[None]] | None = None,
        observe: Callable[[Connection, str], None] | None = None,
    ) -> None:
        self._http = http
        self._auth_url = auth_url.rstrip("/")
        self._api_url = api_url.rstrip("/")
        self._app_key = app_key
        self._tokens = tokens
        # Awaited before every API call: waits for (or refuses) a slot under the tenant's rate.
        self._throttle = throttle
        # Told every API call's outcome: its status class ("2xx", "4xx", ...) or "transport_error".
        self._observe = observe

    @classmethod
    def from_settings(
        cls,
        http: httpx.AsyncClient,
        settings: Settings,
        throttle: Callable[[Connection], Awaitable[None]] | None = None,
        observe: Callable[[Connection, str], None] | None = None,
    ) -> ServiceTitanClient:
        """The deployment's ServiceTitan (or emulator), sharing the process-wide token cache."""
        return cls(
            http,
            settings.servicetitan_auth_url,
            settings.servicetitan_api_url,
            settings.servicetitan_app_key,
            TOKENS,
            throttle=throttle,
            observe=observe,
        )

    # -- plumbing -------------------------------------------------------------------------------
    def _key(self, conn: Connection) -> TokenKey:
        secret = hashlib.sha256(conn.client_secret.get_secret_value().encode()).hexdigest()
        return (self._auth_url, conn.company_id, conn.client_id, secret)

    async def _fetch_token(self, conn: Connection) -> tuple[str, float]:
        path = "/connect/token"
        try:
            response = await self._http.post(
                f"{self._auth_url}{path}",
                data={
                    "grant_type": "client_credentials",
                    "client_id": conn.client_id,
                    "client_secret": conn.client_secret.get_secret_value(),
                },
                headers={"Accept": "application/json"},
            )
        except httpx.TransportError as exc:
            raise _transport_error("POST", path, exc) from None
        if response.status_code != 200:
            raise classify(response)
        body = _json(response)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise _malformed(response)
        try:
            expires_in = float(body.get("expires_in") or 0)
        except (TypeError, ValueError):
            expires_in = 0.0
        return token, expires_in

    async def _token(self, conn: Connection) -> str:
        return await self._tokens.get(self._key(conn), lambda: self._fetch_token(conn))

    async def _send(
        self,
        conn: Connection,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: Any,
        token: str,
    ) -> httpx.Response:
        if self._throttle is not None:
            await self._throttle(conn)
        try:
            response = await self._http.request(
                method,
                f"{self._api_url}{path}",
                params=params,
                json=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "ST-App-Key": self._app_key,
                    "Accept": "application/json",
                },
            )
        except httpx.TransportError as exc:
            if self._observe is not None:
                self._observe(conn, "transport_error")
            raise _transport_error(method, path, exc) from None
        if self._observe is not None:
            self._observe(conn, f"{response.status_code // 100}xx")
        return response

    async def _request(
        self,
        conn: Connection,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        allow: frozenset[int] = frozenset(),
    ) -> httpx.Response:
        """One API call; a 401 drops the token and retries once with a fresh one, then raises."""
        token = await self._token(conn)
        response = await self._send(conn, method, path, params, body, token)
        if response.status_code == 401:
            self._tokens.invalidate(self._key(conn), token)
            token = await self._token(conn)
            response = await self._send(conn, method, path, params, body, token)
        if response.is_success or response.status_code in allow:
            return response
        raise classify(response)

    async def _get_json(self, conn: Connection, path: str, params: dict[str, Any] | None = None) -> Any:
        return _json(await self._request(conn, "GET", path, params=params))

    async def _rows(
        self,
        conn: Connection,
        path: str,
        params: dict[str, Any],
        keep: Callable[[dict[str, Any]], bool],
    ) -> list[dict[str, Any]]:
        """Every row of a filtered list that ``keep`` accepts, page by page.

        ServiceTitan ignores a query parameter it does not know, so a filter is never trusted:
        each row is checked by ``keep`` against what was asked for.
        """
        kept: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            body = await self._get_json(conn, path, {**params, "page": page, "pageSize": PAGE_SIZE})
            data = body.get("data") if isinstance(body, dict) else None
            if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
                raise ApplicationError(
                    f"ServiceTitan GET {path} answered without a data list",
                    type="ServiceTitanMalformedResponse",
                )
            kept += [row for row in data if keep(row)]
            if not body.get("hasMore"):
                return sorted(kept, key=lambda row: int(row["id"]))
        raise ApplicationError(
            f"ServiceTitan GET {path} matched more than {MAX_PAGES * PAGE_SIZE} rows: too broad to verify",
            type="ServiceTitanSearchTooBroad",
            non_retryable=True,
        )

    @staticmethod
    def _crm(conn: Connection) -> str:
        return f"/crm/v2/tenant/{conn.tenant_id}"

    # -- operations -----------------------------------------------------------------------------
    async def test_connection(self, conn: Connection) -> None:
        """Fetches a token with the connection's credentials (raises ServiceTitanAuth if rejected)."""
        await self._fetch_token(conn)

    async def find_customers(self, conn: Connection, phone: str | None, email: str | None) -> list[int]:
        """Ids (oldest first) of the customers with this phone or this email.

        By phone: the list's ``phone`` filter (its matching rule is not documented, so each row is
        verified against the customer's contacts), and our phone key in external data. By email:
        the list has no email filter, so only customers carrying our email key in their external
        data (the ones tempoline created) can be found.
        """
        crm = self._crm(conn)
        found: set[int] = set()
        for key, value in ((PHONE_KEY, phone and phone_key(phone)), (EMAIL_KEY, email and email_key(email))):
            if value:
                rows = await self._rows(
                    conn,
                    f"{crm}/customers",
                    _external(key, value),
                    functools.partial(_has_external, key=key, value=value),
                )
                found.update(int(row["id"]) for row in rows)
        if phone:
            wanted = phone_key(phone)
            for row in await self._rows(conn, f"{crm}/customers", {"phone": wanted}, lambda row: True):
                if int(row["id"]) not in found and await self._has_phone(conn, int(row["id"]), wanted):
                    found.add(int(row["id"]))
        return sorted(found)

    async def _has_phone(self, conn: Connection, customer_id: int, wanted: str) -> bool:
        contacts = await self._rows(
            conn,
            f"{self._crm(conn)}/customers/{customer_id}/contacts",
            {},
            lambda c: (
                c.get("type") in ("Phone", "MobilePhone") and phone_key(str(c.get("value") or "")) == wanted
            ),
        )
        return bool(contacts)

    async def create_customer(
        self, conn: Connection, name: str, phone: str | None, email: str | None, address: Address
    ) -> CustomerRef:
        """A new customer with these contacts and one location, marked with our contact keys."""
        address_body = address.model_dump(exclude_none=True)
        contacts = _contacts(phone, email)
        marks = []
        if phone:
            marks.append({"key": PHONE_KEY, "value": phone_key(phone)})
        if email:
            marks.append({"key": EMAIL_KEY, "value": email_key(email)})
        customer = _json(
            await self._request(
                conn,
                "POST",
                f"{self._crm(conn)}/customers",
                body={
                    "name": name,
                    "type": "Residential",
                    "address": address_body,
                    "contacts": contacts,
                    "locations": [{"name": name, "address": address_body, "contacts": contacts}],
                    "externalData": {"applicationGuid": APPLICATION_GUID, "externalData": marks},
                },
            )
        )
        customer_id = int(customer["id"])
        locations = customer.get("locations") or []
        if locations:
            location_id = int(locations[0]["id"])
        else:  # an API version that does not echo the created locations
            location_id = await self.location_for(conn, customer_id, name, address)
        return CustomerRef(customer_id=customer_id, location_id=location_id, created=True)

    async def location_for(self, conn: Connection, customer_id: int, name: str, address: Address) -> int:
        """The customer's first location, or a new one at this address."""
        crm = self._crm(conn)
        found = await self._rows(
            conn,
            f"{crm}/locations",
            {"customerId": customer_id},
            lambda row: str(row.get("customerId")) == str(customer_id),
        )
        if found:
            return int(found[0]["id"])
        location = _json(
            await self._request(
                conn,
                "POST",
                f"{crm}/locations",
                body={
                    "customerId": customer_id,
                    "name": name,
                    "address": address.model_dump(exclude_none=True),
                },
            )
        )
        return int(location["id"])

    def _bookings_path(self, conn: Connection) -> str:
        return f"{self._crm(conn)}/booking-provider/{conn.booking_provider_id}/bookings"

    async def find_bookings(self, conn: Connection, external_id: str) -> list[BookingRef]:
        """The connection's booking provider's bookings with this external id, oldest first
        (ServiceTitan does not promise one per external id)."""
        rows = await self._rows(
            conn,
            self._bookings_path(conn),
            {"externalId": external_id},
            lambda row: (
                row.get("externalId") == external_id
                and str(row.get("bookingProviderId")) == str(conn.booking_provider_id)
            ),
        )
        return [_booking_ref(row, created=False) for row in rows]

    async def create_booking(
        self,
        conn: Connection,
        external_id: str,
        summary: str,
        name: str,
        phone: str | None = None,
        email: str | None = None,
        address: Address | None = None,
        source: str = "tempoline",
        is_first_time_client: bool = True,
        customer_type: str = "Residential",
    ) -> BookingRef:
        body: dict[str, Any] = {
            "source": source,
            "name": name,
            "summary": summary,
            "isFirstTimeClient": is_first_time_client,
            "externalId": external_id,
            "customerType": customer_type,
            "contacts": _contacts(phone, email),
        }
        if address is not None:
            body["address"] = address.model_dump(exclude_none=True)
        response = await self._request(conn, "POST", self._bookings_path(conn), body=body)
        return _booking_ref(_json(response), created=True)

    async def get_booking(self, conn: Connection, booking_id: int) -> BookingRef:
        booking = await self._get_json(conn, f"{self._crm(conn)}/bookings/{booking_id}")
        return _booking_ref(booking, created=False)

    async def get_job(self, conn: Connection, job_id: int) -> Job:
        job = await self._get_json(conn, f"/jpm/v2/tenant/{conn.tenant_id}/jobs/{job_id}")
        return Job(
            id=int(job["id"]),
            job_status=job.get("jobStatus"),
            completed_on=job.get("completedOn"),
            customer_id=job.get("customerId"),
            location_id=job.get("locationId"),
            booking_id=job.get("bookingId"),
            invoice_id=job.get("invoiceId"),
        )

    async def get_invoice_total(self, conn: Connection, job_id: int) -> Decimal | None:
        """The total of the job's invoices (adjustment invoices included), or None without one."""
        rows = await self._rows(
            conn,
            f"/accounting/v2/tenant/{conn.tenant_id}/invoices",
            {"jobId": job_id},
            lambda row: isinstance(row.get("job"), dict) and str(row["job"].get("id")) == str(job_id),
        )
        if not rows:
            return None
        try:
            return sum((Decimal(str(row.get("total") or "0")) for row in rows), Decimal("0"))
        except InvalidOperation as exc:
            raise ApplicationError(
                f"ServiceTitan invoice total for job {job_id} is not a number",
                type="ServiceTitanMalformedResponse",
            ) from exc


def _contacts(phone: str | None, email: str | None) -> list[dict[str, str]]:
    contacts = []
    if phone:
        contacts.append({"type": "Phone", "value": phone})
    if email:
        contacts.append({"type": "Email", "value": email})
    return contacts


def _booking_ref(booking: dict[str, Any], created: bool) -> BookingRef:
    return BookingRef(
        booking_id=int(booking["id"]),
        status=booking.get("status"),
        job_id=booking.get("jobId"),
        created=created,
    )


def _external(key: str, value: str) -> dict[str, str]:
    """The customer list's external-data filter for one of our keys."""
    return {
        "externalDataApplicationGuid": APPLICATION_GUID,
        "externalDataKey": key,
        "externalDataValues": value,
    }


def _has_external(row: dict[str, Any], key: str, value: str) -> bool:
    items = row.get("externalData")
    return isinstance(items, list) and any(
        isinstance(item, dict) and item.get("key") == key and item.get("value") == value for item in items
    )
