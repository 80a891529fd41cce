"""In-memory ServiceTitan tenants: credentials, tokens, CRM/JPM/accounting records, rate limits."""

from __future__ import annotations

import itertools
import math
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DEFAULT_APP_KEY = "emulator-app-key"
DEFAULT_TOKEN_TTL = 900.0
DEFAULT_RATE_LIMIT = 60

JOB_STATUSES = {
    "scheduled": "Scheduled",
    "dispatched": "Dispatched",
    "in_progress": "InProgress",
    "hold": "Hold",
    "completed": "Completed",
    "canceled": "Canceled",
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Token:
    value: str
    tenant_id: str
    client_id: str
    expires_at: float  # time.monotonic()
    generation: int


@dataclass
class RateWindow:
    """Sliding one-second window over a tenant's API calls."""

    limit: int
    admitted: deque[float] = field(default_factory=deque)
    attempts: deque[float] = field(default_factory=deque)
    max_per_second: int = 0
    max_admitted_per_second: int = 0
    requests: int = 0
    rate_limited: int = 0

    def hit(self, now: float) -> int | None:
        """Count one request; the Retry-After seconds if it is over the limit, else None."""
        self.requests += 1
        horizon = now - 1.0
        attempts = self.attempts
        attempts.append(now)
        while attempts[0] <= horizon:
            attempts.popleft()
        self.max_per_second = max(self.max_per_second, len(attempts))
        admitted = self.admitted
        while admitted and admitted[0] <= horizon:
            admitted.popleft()
        if len(admitted) >= self.limit:
            self.rate_limited += 1
            return max(1, math.ceil(admitted[0] + 1.0 - now))
        admitted.append(now)
        self.max_admitted_per_second = max(self.max_admitted_per_second, len(admitted))
        return None


@dataclass
class Tenant:
    tenant_id: str
    client_id: str
    client_secret: str
    rate_limit_per_second: int = DEFAULT_RATE_LIMIT
    token_ttl: float = DEFAULT_TOKEN_TTL
    token_generation: int = 0
    tokens_issued: int = 0
    customers: dict[int, dict[str, Any]] = field(default_factory=dict)
    locations: dict[int, dict[str, Any]] = field(default_factory=dict)
    bookings: dict[int, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[int, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[int, dict[str, Any]] = field(default_factory=dict)
    # External data of customers: customer id -> application guid -> [{"key", "value"}]; shown
    # only to a caller that names the same guid.
    customer_external: dict[int, dict[str, list[dict[str, str]]]] = field(default_factory=dict)
    rate: RateWindow = field(default_factory=lambda: RateWindow(DEFAULT_RATE_LIMIT))

    def summary(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "client_id": self.client_id,
            "rate_limit_per_second": self.rate_limit_per_second,
            "token_ttl": self.token_ttl,
        }

    def stats(self) -> dict[str, Any]:
        return {
            "max_per_second": self.rate.max_per_second,
            "max_admitted_per_second": self.rate.max_admitted_per_second,
            "requests": self.rate.requests,
            "rate_limited": self.rate.rate_limited,
            "tokens_issued": self.tokens_issued,
            "customers": len(self.customers),
            "locations": len(self.locations),
            "bookings": len(self.bookings),
            "jobs": len(self.jobs),
            "invoices": len(self.invoices),
        }


class ServiceTitanState:
    def __init__(self, app_key: str | None = None) -> None:
        self.app_key = app_key or os.environ.get("EMULATOR_SERVICETITAN_APP_KEY") or DEFAULT_APP_KEY
        self.reset()

    def reset(self) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.clients: dict[str, str] = {}  # client_id -> tenant_id
        self.tokens: dict[str, Token] = {}
        self._ids = itertools.count(10_001)

    def next_id(self) -> int:
        return next(self._ids)

    # -- tenants -----------------------------------------------------------------------------
    def upsert_tenant(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        rate_limit_per_second: int | None = None,
        token_ttl: float | None = None,
    ) -> Tenant:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            tenant = Tenant(tenant_id=tenant_id, client_id=client_id, client_secret=client_secret)
            self.tenants[tenant_id] = tenant
        else:
            if tenant.client_id != client_id:
                self.clients.pop(tenant.client_id, None)
            tenant.client_id = client_id
            tenant.client_secret = client_secret
        if rate_limit_per_second is not None:
            tenant.rate_limit_per_second = rate_limit_per_second
            tenant.rate.limit = rate_limit_per_second
        if token_ttl is not None:
            tenant.token_ttl = token_ttl
        self.clients[client_id] = tenant_id
        return tenant

    def revoke_tokens(self, tenant: Tenant) -> int:
        tenant.token_generation += 1
        stale = [v for v, t in self.tokens.items() if t.tenant_id == tenant.tenant_id]
        for value in stale:
            del self.tokens[value]
        return len(stale)

    # -- tokens ------------------------------------------------------------------------------
    def authenticate_client(self, client_id: str, client_secret: str) -> Tenant | None:
        tenant_id = self.clients.get(client_id)
        if tenant_id is None:
            return None
        tenant = self.tenants[tenant_id]
        if not secrets.compare_digest(tenant.client_secret.encode(), client_secret.encode()):
            return None
        return tenant

    def issue_token(self, tenant: Tenant) -> Token:
        now = time.monotonic()
        if len(self.tokens) > 10_000:  # keep memory bounded under token-happy clients
            for value in [v for v, t in self.tokens.items() if t.expires_at <= now]:
                del self.tokens[value]
        token = Token(
            value="st_" + secrets.token_urlsafe(32),
            tenant_id=tenant.tenant_id,
            client_id=tenant.client_id,
            expires_at=now + tenant.token_ttl,
            generation=tenant.token_generation,
        )
        self.tokens[token.value] = token
        tenant.tokens_issued += 1
        return token

    def valid_token(self, value: str) -> Token | None:
        token = self.tokens.get(value)
        if token is None:
            return None
        tenant = self.tenants.get(token.tenant_id)
        if tenant is None or token.generation != tenant.token_generation:
            return None
        if time.monotonic() >= token.expires_at:
            return None
        return token

    # -- booking -> job -> invoice progression ------------------------------------------------
    def advance_booking(
        self, tenant: Tenant, booking: dict[str, Any], status: str, invoice_total: float | None
    ) -> dict[str, Any]:
        stamp = now_iso()
        if status == "dismissed":
            booking["status"] = "Dismissed"
            booking["modifiedOn"] = stamp
            return {"booking": booking, "job": None, "invoice": None}
        job = tenant.jobs.get(booking["jobId"]) if booking.get("jobId") else None
        if job is None:
            job = self._create_job(tenant, booking, stamp)
        job["jobStatus"] = JOB_STATUSES[status]
        job["modifiedOn"] = stamp
        if status == "completed" and job.get("completedOn") is None:
            job["completedOn"] = stamp
        invoice = tenant.invoices[job["invoiceId"]]
        if invoice_total is not None:
            amount = f"{invoice_total:.2f}"
            invoice.update(subTotal=amount, total=amount, balance=amount, modifiedOn=stamp)
            job["total"] = round(float(invoice_total), 2)
        return {"booking": booking, "job": job, "invoice": invoice}

    def _create_job(self, tenant: Tenant, booking: dict[str, Any], stamp: str) -> dict[str, Any]:
        job_id = self.next_id()
        invoice_id = self.next_id()
        job = {
            "id": job_id,
            "jobNumber": str(job_id),
            "projectId": None,
            "customerId": booking.get("customerId"),
            "locationId": booking.get("locationId"),
            "jobStatus": "Scheduled",
            "completedOn": None,
            "businessUnitId": booking.get("businessUnitId"),
            "jobTypeId": booking.get("jobTypeId"),
            "priority": booking.get("priority") or "Normal",
            "campaignId": booking.get("campaignId"),
            "summary": booking.get("summary"),
            "customFields": [],
            "appointmentCount": 1,
            "createdOn": stamp,
            "createdById": 0,
            "modifiedOn": stamp,
            "tagTypeIds": [],
            "leadCallId": None,
            "bookingId": booking["id"],
            "soldById": None,
            "externalData": None,
            "customerPo": None,
            "invoiceId": invoice_id,
            "total": 0.0,
        }
        tenant.jobs[job_id] = job
        tenant.invoices[invoice_id] = {
            "id": invoice_id,
            "syncStatus": "Pending",
            "summary": booking.get("summary"),
            "referenceNumber": str(invoice_id),
            "invoiceDate": stamp,
            "dueDate": None,
            "subTotal": "0.00",
            "salesTax": "0.00",
            "salesTaxCode": None,
            "total": "0.00",
            "balance": "0.00",
            "invoiceType": None,
            "customer": {"id": booking.get("customerId"), "name": booking.get("name")},
            "customerAddress": booking.get("address"),
            "location": None,
            "locationAddress": booking.get("address"),
            "businessUnit": None,
            "termName": None,
            "createdBy": None,
            "batch": None,
            "depositedOn": None,
            "createdOn": stamp,
            "modifiedOn": stamp,
            "adjustmentToId": None,
            "job": {"id": job_id, "number": str(job_id), "type": None},
            "projectId": None,
            "royalty": None,
            "employeeInfo": None,
            "commissionEligibilityDate": None,
            "items": [],
            "customFields": None,
            "active": True,
        }
        booking["jobId"] = job_id
        booking["status"] = "Converted"
        booking["modifiedOn"] = stamp
        return job
