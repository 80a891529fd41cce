"""The emulated wire protocol: ``/auth/connect/token`` and ``/api/{crm,jpm,accounting}/v2/...``."""

from __future__ import annotations

import base64
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, Router

from emulators.providers.servicetitan.errors import problem, validation_error
from emulators.providers.servicetitan.state import ServiceTitanState, Tenant, now_iso
from emulators.providers.servicetitan.validation import (
    Errors,
    check_address,
    check_contacts,
    check_customer_type,
    check_external_data,
    digits,
    optional_int,
    optional_str,
    require_bool,
    require_str,
)

MAX_PAGE_SIZE = 5000
DEFAULT_PAGE_SIZE = 50

Handler = Callable[[Request, Tenant], Awaitable[Response]]


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


def _parse_ids(raw: str | None) -> set[int] | None:
    if not raw:
        return None
    out = set()
    for part in raw.split(","):
        part = part.strip()
        if part:
            out.add(int(part))
    return out


class ServiceTitanApi:
    def __init__(self, state: ServiceTitanState) -> None:
        self.state = state

    # -- plumbing ------------------------------------------------------------------------------
    def router(self) -> Router:
        t = "/crm/v2/tenant/{tenant}"
        api_routes = [
            Route(f"{t}/customers", self._api(self.list_customers), methods=["GET"]),
            Route(f"{t}/customers", self._api(self.create_customer), methods=["POST"]),
            Route(f"{t}/customers/{{id:int}}", self._api(self.get_customer), methods=["GET"]),
            Route(
                f"{t}/customers/{{id:int}}/contacts", self._api(self.list_customer_contacts), methods=["GET"]
            ),
            Route(f"{t}/locations", self._api(self.list_locations), methods=["GET"]),
            Route(f"{t}/locations", self._api(self.create_location), methods=["POST"]),
            Route(f"{t}/locations/{{id:int}}", self._api(self.get_location), methods=["GET"]),
            Route(f"{t}/bookings", self._api(self.list_bookings), methods=["GET"]),
            Route(f"{t}/bookings", self._api(self.create_booking), methods=["POST"]),
            Route(f"{t}/bookings/{{id:int}}", self._api(self.get_booking), methods=["GET"]),
            Route(f"{t}/booking-provider/{{bp}}/bookings", self._api(self.list_bookings), methods=["GET"]),
            Route(f"{t}/booking-provider/{{bp}}/bookings", self._api(self.create_booking), methods=["POST"]),
            Route(
                f"{t}/booking-provider/{{bp}}/bookings/{{id:int}}",
                self._api(self.get_booking),
                methods=["GET"],
            ),
            Route("/jpm/v2/tenant/{tenant}/jobs", self._api(self.list_jobs), methods=["GET"]),
            Route("/jpm/v2/tenant/{tenant}/jobs/{id:int}", self._api(self.get_job), methods=["GET"]),
            Route("/accounting/v2/tenant/{tenant}/invoices", self._api(self.list_invoices), methods=["GET"]),
        ]
        return Router(
            routes=[
                Route("/auth/connect/token", self.token, methods=["POST"]),
                Mount("/api", routes=api_routes),
            ],
            default=self.not_found,
        )

    async def not_found(self, scope: Any, receive: Any, send: Any) -> None:
        await problem(404)(scope, receive, send)

    def _api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        """Wraps an API handler with the checks every real API call goes through."""

        async def endpoint(request: Request) -> Response:
            tenant_or_error = self._authorize(request)
            if isinstance(tenant_or_error, Response):
                return tenant_or_error
            tenant = tenant_or_error
            retry_after = tenant.rate.hit(time.monotonic())
            if retry_after is not None:
                return problem(
                    429,
                    f"Rate limit of {tenant.rate_limit_per_second} requests per second exceeded.",
                    headers={"Retry-After": str(retry_after)},
                )
            try:
                return await handler(request, tenant)
            except _BadRequest as exc:
                return validation_error(exc.errors)

        return endpoint

    def _authorize(self, request: Request) -> Tenant | Response:
        auth = request.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return problem(401, "Unauthorized", headers={"WWW-Authenticate": "Bearer"})
        token = self.state.valid_token(value.strip())
        if token is None:
            return problem(
                401,
                "Unauthorized",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if request.headers.get("st-app-key") != self.state.app_key:
            return problem(401, "Invalid or missing ST-App-Key header.")
        tenant = self.state.tenants.get(request.path_params["tenant"])
        if tenant is None:
            return problem(404, f"Tenant {request.path_params['tenant']} not found.")
        if token.tenant_id != tenant.tenant_id:
            return problem(403, "The access token was not issued for this tenant.")
        return tenant

    # -- auth server -------------------------------------------------------------------------------
    async def token(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in content_type:
            return _oauth_error("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic ") and not client_id:
            try:
                raw = base64.b64decode(basic[6:].strip()).decode()
                user, _, password = raw.partition(":")
                client_id, client_secret = unquote(user), unquote(password)
            except ValueError:
                return _oauth_error("invalid_client", "Malformed Basic credentials")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "Only client_credentials is supported")
        if not client_id or client_secret is None:
            return _oauth_error("invalid_client", "client_id and client_secret are required")
        tenant = self.state.authenticate_client(client_id, client_secret)
        if tenant is None:
            return _oauth_error("invalid_client", "Unknown client or wrong secret")
        token = self.state.issue_token(tenant)
        return JSONResponse(
            {
                "access_token": token.value,
                "expires_in": max(1, math.ceil(tenant.token_ttl)),
                "token_type": "Bearer",
                "scope": "tn.crm.customers:rw tn.crm.locations:rw tn.crm.bookings:rw tn.jpm.jobs:r "
                "tn.acc.invoices:r",
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    # -- helpers -------------------------------------------------------------------------------------
    @staticmethod
    async def _body(request: Request) -> dict[str, Any]:
        raw = await request.body()
        if not raw.strip():
            raise _BadRequest({"$": ["A non-empty request body is required."]})
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise _BadRequest({"$": [f"The JSON value could not be converted: {exc}"]}) from exc
        if not isinstance(body, dict):
            raise _BadRequest({"$": ["The JSON value must be an object."]})
        return body

    @staticmethod
    def _page(request: Request, items: Iterable[dict[str, Any]]) -> JSONResponse:
        q = request.query_params
        try:
            page = int(q.get("page") or 1)
            size = int(q.get("pageSize") or DEFAULT_PAGE_SIZE)
        except ValueError as exc:
            raise _BadRequest({"page": ["page and pageSize must be integers."]}) from exc
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            raise _BadRequest(
                {"pageSize": [f"page must be >= 1 and pageSize between 1 and {MAX_PAGE_SIZE}."]}
            )
        rows = sorted(items, key=lambda r: r["id"])
        start = (page - 1) * size
        data = rows[start : start + size]
        include_total = q.get("includeTotal", "").lower() == "true"
        return JSONResponse(
            {
                "page": page,
                "pageSize": size,
                "hasMore": start + size < len(rows),
                "totalCount": len(rows) if include_total else None,
                "data": data,
            }
        )

    @staticmethod
    def _ids(request: Request, name: str = "ids") -> set[int] | None:
        try:
            return _parse_ids(request.query_params.get(name))
        except ValueError as exc:
            raise _BadRequest(
                {name: [f"The {name} parameter must be a comma-separated list of integers."]}
            ) from exc

    def _new_contacts(self, contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stamp = now_iso()
        return [{"id": self.state.next_id(), **c, "modifiedOn": stamp} for c in contacts]

    # -- customers -----------------------------------------------------------------------------------
    async def list_customers(self, request: Request, tenant: Tenant) -> Response:
        """The real list's filters only (tenant-crm-v2 ``Customers_GetList``); any other query
        parameter, ``email`` included, is ignored as the real API ignores it."""
        q = request.query_params
        ids = self._ids(request)
        name = (q.get("name") or "").strip().lower()
        phone = digits(q.get("phone") or "")
        address_filters = {
            k: q[k].strip().lower() for k in ("street", "unit", "city", "state", "zip", "country") if q.get(k)
        }
        active = (q.get("active") or "True").strip().lower()
        guid = (q.get("externalDataApplicationGuid") or "").strip().lower()
        key = q.get("externalDataKey")
        values = {v for v in (q.get("externalDataValues") or "").split(",") if v} if key else set()
        rows = []
        for c in tenant.customers.values():
            if ids is not None and c["id"] not in ids:
                continue
            if active != "any" and c["active"] != (active == "true"):
                continue
            if name and c["name"].lower() != name:
                continue
            if phone and not any(
                x["type"] in ("Phone", "MobilePhone") and phone in digits(x["value"]) for x in c["contacts"]
            ):
                continue
            if any(str(c["address"].get(k) or "").lower() != v for k, v in address_filters.items()):
                continue
            view = _customer_view(tenant, c, guid)
            if key and not any(e["key"] == key and e["value"] in values for e in view["externalData"] or []):
                continue
            rows.append(view)
        return self._page(request, rows)

    async def get_customer(self, request: Request, tenant: Tenant) -> Response:
        customer = tenant.customers.get(request.path_params["id"])
        if customer is None:
            return problem(404, "Customer not found.")
        guid = (request.query_params.get("externalDataApplicationGuid") or "").strip().lower()
        return JSONResponse(_customer_view(tenant, customer, guid))

    async def list_customer_contacts(self, request: Request, tenant: Tenant) -> Response:
        customer = tenant.customers.get(request.path_params["id"])
        if customer is None:
            return problem(404, "Customer not found.")
        return self._page(request, customer["contacts"])

    async def create_customer(self, request: Request, tenant: Tenant) -> Response:
        body = await self._body(request)
        errors: Errors = {}
        require_str(body, "name", errors)
        ctype = check_customer_type(body, "type", errors)
        address = check_address(body.get("address"), errors)
        contacts = check_contacts(body.get("contacts"), errors)
        external = check_external_data(body.get("externalData"), errors)
        raw_locations = body.get("locations") or []
        locations_in: list[tuple[dict[str, Any], dict[str, Any] | None, list[dict[str, Any]]]] = []
        if not isinstance(raw_locations, list):
            errors.setdefault("locations", []).append("The locations field must be an array.")
            raw_locations = []
        for i, loc in enumerate(raw_locations):
            if not isinstance(loc, dict):
                errors.setdefault(f"locations[{i}]", []).append("Must be an object.")
                continue
            loc_errors: Errors = {}
            require_str(loc, "name", loc_errors)
            loc_address = check_address(loc.get("address"), loc_errors)
            loc_contacts = check_contacts(loc.get("contacts"), loc_errors)
            for k, v in loc_errors.items():
                errors[f"locations[{i}].{k}"] = v
            locations_in.append((loc, loc_address, loc_contacts))
        if errors:
            raise _BadRequest(errors)
        stamp = now_iso()
        customer_id = self.state.next_id()
        customer = {
            "id": customer_id,
            "active": True,
            "name": body["name"],
            "type": ctype,
            "address": address,
            "customFields": body.get("customFields") or [],
            "balance": 0.0,
            "doNotMail": bool(body.get("doNotMail", False)),
            "doNotService": bool(body.get("doNotService", False)),
            "createdOn": stamp,
            "createdById": 0,
            "modifiedOn": stamp,
            "mergedToId": None,
            "externalData": None,
            "contacts": self._new_contacts(contacts),
        }
        tenant.customers[customer_id] = customer
        if external is not None:
            guid, items = external
            tenant.customer_external[customer_id] = {guid: items}
        created_locations = [
            self._store_location(tenant, customer_id, loc["name"], loc_address, loc_contacts)
            for loc, loc_address, loc_contacts in locations_in
        ]
        shown = external[1] if external is not None else None
        return JSONResponse({**customer, "externalData": shown, "locations": created_locations})

    # -- locations -----------------------------------------------------------------------------------
    def _store_location(
        self,
        tenant: Tenant,
        customer_id: int,
        name: str,
        address: dict[str, Any] | None,
        contacts: list[dict[str, Any]],
    ) -> dict[str, Any]:
        stamp = now_iso()
        location = {
            "id": self.state.next_id(),
            "customerId": customer_id,
            "active": True,
            "name": name,
            "address": address,
            "customFields": [],
            "createdOn": stamp,
            "createdById": 0,
            "modifiedOn": stamp,
            "mergedToId": None,
            "zoneId": None,
            "taxZoneId": None,
            "taxExempt": False,
            "tagTypeIds": [],
            "externalData": None,
            "contacts": self._new_contacts(contacts),
        }
        tenant.locations[location["id"]] = location
        return location

    async def list_locations(self, request: Request, tenant: Tenant) -> Response:
        ids = self._ids(request)
        customer_id = request.query_params.get("customerId")
        name = (request.query_params.get("name") or "").strip().lower()
        try:
            cid = int(customer_id) if customer_id else None
        except ValueError as exc:
            raise _BadRequest({"customerId": ["The customerId parameter must be an integer."]}) from exc
        rows = [
            loc
            for loc in tenant.locations.values()
            if (ids is None or loc["id"] in ids)
            and (cid is None or loc["customerId"] == cid)
            and (not name or loc["name"].lower() == name)
        ]
        return self._page(request, rows)

    async def get_location(self, request: Request, tenant: Tenant) -> Response:
        location = tenant.locations.get(request.path_params["id"])
        return JSONResponse(location) if location else problem(404, "Location not found.")

    async def create_location(self, request: Request, tenant: Tenant) -> Response:
        body = await self._body(request)
        errors: Errors = {}
        require_str(body, "name", errors)
        address = check_address(body.get("address"), errors)
        contacts = check_contacts(body.get("contacts"), errors)
        customer_id = body.get("customerId")
        if isinstance(customer_id, bool) or not isinstance(customer_id, int):
            errors.setdefault("customerId", []).append("The customerId field is required.")
        elif customer_id not in tenant.customers:
            errors.setdefault("customerId", []).append(f"Customer {customer_id} does not exist.")
        if errors:
            raise _BadRequest(errors)
        return JSONResponse(self._store_location(tenant, customer_id, body["name"], address, contacts))

    # -- bookings ------------------------------------------------------------------------------------
    @staticmethod
    def _provider_id(request: Request) -> str | None:
        return request.path_params.get("bp")

    async def list_bookings(self, request: Request, tenant: Tenant) -> Response:
        ids = self._ids(request)
        external_id = request.query_params.get("externalId")
        bp = self._provider_id(request)
        rows = [
            b
            for b in tenant.bookings.values()
            if (ids is None or b["id"] in ids)
            and (external_id is None or b["externalId"] == external_id)
            and (bp is None or b["bookingProviderId"] == bp)
        ]
        return self._page(request, rows)

    async def get_booking(self, request: Request, tenant: Tenant) -> Response:
        booking = tenant.bookings.get(request.path_params["id"])
        bp = self._provider_id(request)
        if booking is None or (bp is not None and booking["bookingProviderId"] != bp):
            return problem(404, "Booking not found.")
        return JSONResponse(booking)

    async def create_booking(self, request: Request, tenant: Tenant) -> Response:
        body = await self._body(request)
        errors: Errors = {}
        for key in ("source", "name", "summary", "externalId"):
            require_str(body, key, errors)
        require_bool(body, "isFirstTimeClient", errors)
        address = check_address(body.get("address"), errors, required=False)
        contacts = check_contacts(body.get("contacts"), errors)
        customer_type = check_customer_type(body, "customerType", errors)
        optional_str(body, "start", errors)
        for key in ("campaignId", "businessUnitId", "jobTypeId"):
            optional_int(body, key, errors)
        if errors:
            raise _BadRequest(errors)
        # No uniqueness on externalId: nothing in the API reference promises one, so a second
        # create with the same externalId makes a second booking.
        bp = self._provider_id(request)
        stamp = now_iso()
        booking = {
            "id": self.state.next_id(),
            "source": body["source"],
            "createdOn": stamp,
            "name": body["name"],
            "address": address,
            "customerType": customer_type,
            "start": body.get("start"),
            "summary": body["summary"],
            "campaignId": body.get("campaignId"),
            "businessUnitId": body.get("businessUnitId"),
            "isFirstTimeClient": body["isFirstTimeClient"],
            "uploadedImages": body.get("uploadedImages") or [],
            "isSendConfirmationEmail": bool(body.get("isSendConfirmationEmail", False)),
            "status": "Pending",
            "dismissingReasonId": None,
            "jobId": None,
            "externalId": body["externalId"],
            "priority": body.get("priority"),
            "jobTypeId": body.get("jobTypeId"),
            "bookingProviderId": bp,
            "modifiedOn": stamp,
            "contacts": self._new_contacts(contacts),
        }
        tenant.bookings[booking["id"]] = booking
        return JSONResponse(booking)

    # -- jobs and invoices -----------------------------------------------------------------------------
    async def list_jobs(self, request: Request, tenant: Tenant) -> Response:
        ids = self._ids(request)
        booking_id = request.query_params.get("bookingId")
        rows = [
            j
            for j in tenant.jobs.values()
            if (ids is None or j["id"] in ids) and (not booking_id or str(j["bookingId"]) == booking_id)
        ]
        return self._page(request, rows)

    async def get_job(self, request: Request, tenant: Tenant) -> Response:
        job = tenant.jobs.get(request.path_params["id"])
        return JSONResponse(job) if job else problem(404, "Job not found.")

    async def list_invoices(self, request: Request, tenant: Tenant) -> Response:
        """``ids``, ``jobId`` (one job), ``jobNumber`` and ``customerId`` of the real
        ``Invoices_GetList``; anything else (``jobIds`` included) is ignored."""
        ids = self._ids(request)
        job_id = self._ids(request, "jobId")
        customer_id = self._ids(request, "customerId")
        job_number = request.query_params.get("jobNumber")
        rows = [
            inv
            for inv in tenant.invoices.values()
            if (ids is None or inv["id"] in ids)
            and (job_id is None or inv["job"]["id"] in job_id)
            and (job_number is None or inv["job"]["number"] == job_number)
            and (customer_id is None or inv["customer"]["id"] in customer_id)
        ]
        return self._page(request, rows)


def _customer_view(tenant: Tenant, customer: dict[str, Any], guid: str) -> dict[str, Any]:
    """A customer as the list and get endpoints show it (Crm.V2.Customers.CustomerResponse): no
    contacts (they have their own endpoint), external data only for the caller's application guid."""
    view = {k: v for k, v in customer.items() if k != "contacts"}
    view["externalData"] = tenant.customer_external.get(customer["id"], {}).get(guid) if guid else None
    return view


class _BadRequest(Exception):
    def __init__(self, errors: Errors) -> None:
        super().__init__(errors)
        self.errors = errors
