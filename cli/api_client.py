"""What the `tempoline` commands' clients of the API share: one part of the API (its path
prefix) called with a person's key, each answer parsed with the API's own response model.

Every failure is an `ApiError`: `status` is the HTTP status with the problem+json title and
detail, or None when the API could not be reached (`where` then names the URL tried).
"""

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from clients import sse
from clients.tempoline_api import ApiError, problem_reason

T = TypeVar("T")


class ApiClient:
    """One part of the API (`prefix`, e.g. /api/platform) called with a person's key."""

    prefix: str

    def __init__(self, http: httpx.AsyncClient, api_key: str) -> None:
        self._http = http
        self._auth = {"Authorization": f"Bearer {api_key}"}

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    def _unreachable(self, method: str, path: str, exc: httpx.TransportError) -> ApiError:
        url = f"{str(self._http.base_url).rstrip('/')}{self.prefix}{path}"
        return ApiError(f"{method} {url}", None, "could not reach the API", str(exc) or type(exc).__name__)

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.is_error:
            title, detail = problem_reason(response)
            where = f"{response.request.method} {response.request.url.path}"
            raise ApiError(where, response.status_code, title, detail)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: AsyncIterator[bytes] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """`content` streams a body (an upload) instead of `json`."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = await self._http.request(
                method,
                self.prefix + path,
                params=query,
                json=json,
                content=content,
                headers={**self._auth, **(headers or {})},
            )
        except httpx.TransportError as exc:
            raise self._unreachable(method, path, exc) from exc
        self._check(response)
        return response

    async def _call(
        self,
        method: str,
        path: str,
        model: type[T],
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> T:
        """The answer parsed as `model`: a response model, or a list of them."""
        response = await self._send(method, path, params=params, json=json, headers=headers)
        try:
            return TypeAdapter(model).validate_json(response.content)
        except ValidationError as exc:
            where = f"{method} {self.prefix}{path}"
            raise ApiError(where, response.status_code, "unexpected response body", str(exc)) from exc

    async def _follow(
        self, path: str, params: dict[str, str] | None, after: str | None
    ) -> AsyncIterator[sse.Message]:
        try:
            async for message in sse.follow(
                self._http,
                self.prefix + path,
                params=params,
                headers=self._auth,
                last_event_id=after,
                check=self._check,
            ):
                yield message
        except httpx.TransportError as exc:  # the (re)connection itself failed
            raise self._unreachable("GET", path, exc) from exc
