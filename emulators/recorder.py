"""Ring buffer of the requests each provider received, with secrets redacted."""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
from collections import deque
from collections.abc import Iterable
from email import policy
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qsl

MAX_CALLS = 50_000

# Header names (lower case) whose values are cut to a short prefix in the log.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "st-app-key",
        "x-api-key",
        "api-key",
        "x-goog-api-key",
    }
)
# Form / JSON fields that are redacted the same way.
SECRET_FIELDS = frozenset({"client_secret", "refresh_token", "password", "code", "access_token"})
PREFIX_LEN = 8


def redact(value: str) -> str:
    if len(value) <= PREFIX_LEN:
        return "***"
    return value[:PREFIX_LEN] + "***"


def redact_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for k, v in raw:
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        headers[name] = redact(value) if name in SECRET_HEADERS else value
    return headers


def _multipart(body: bytes, content_type: str) -> dict[str, Any]:
    """Form fields of a multipart body; a file as ``{"filename", "bytes", "sha256"}`` (an audio
    upload is logged by its hash, not its content); a repeated field as a list."""
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            value: Any = {
                "filename": part.get_filename(),
                "bytes": len(payload),
                "sha256": hashlib.sha256(payload).hexdigest(),
            }
        else:
            text = payload.decode("utf-8", "replace")
            value = redact(text) if name in SECRET_FIELDS else text
        if name in fields:
            previous = fields[name]
            fields[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            fields[str(name)] = value
    return fields


def decode_body(body: bytes, content_type: str) -> tuple[Any, dict[str, Any] | None]:
    """(json body or None, form fields or None), secrets in form fields redacted."""
    if not body:
        return None, None
    if "multipart/form-data" in content_type:
        return None, _multipart(body, content_type)
    if "application/x-www-form-urlencoded" in content_type:
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            return None, None
        return None, {k: (redact(v) if k in SECRET_FIELDS else v) for k, v in pairs}
    if "json" in content_type or body[:1] in (b"{", b"["):
        try:
            return json.loads(body), None
        except (ValueError, UnicodeDecodeError):
            return None, None
    return None, None


class CallRecorder:
    def __init__(self, maxlen: int = MAX_CALLS) -> None:
        self._calls: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._seq = itertools.count(1)

    def record(
        self,
        *,
        provider: str,
        method: str,
        path: str,
        query_string: bytes,
        raw_headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
        status: int | None,
        fault_id: str | None,
        started: float,
        json_body: Any = None,
        grpc_status: str | None = None,
        peer: str | None = None,
    ) -> None:
        """``json_body``: the request already decoded (a gRPC message as JSON) instead of ``body``;
        ``grpc_status``: the gRPC code a gRPC call ended with (``status`` is its HTTP equivalent);
        ``peer``: the client's address and port, which tell one connection from another (whether
        a client keeps its connections alive)."""
        headers = redact_headers(raw_headers)
        form = None
        if json_body is None:
            json_body, form = decode_body(body, headers.get("content-type", ""))
        query = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        call: dict[str, Any] = {
            "seq": next(self._seq),
            "time": started,
            "duration": round(time.time() - started, 6),
            "provider": provider,
            "method": method,
            "path": path,
            "query": query,
            "headers": headers,
            "json": json_body,
            "form": form,
            "status": status,
            "fault_id": fault_id,
            "peer": peer,
        }
        if grpc_status is not None:
            call["grpc_status"] = grpc_status
        self._calls.append(call)

    def query(
        self,
        *,
        provider: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        since: int | None = None,
    ) -> list[dict[str, Any]]:
        regex = re.compile(path) if path else None
        method = method.upper() if method else None
        out = []
        for call in self._calls:
            if provider is not None and call["provider"] != provider:
                continue
            if method is not None and call["method"] != method:
                continue
            if status is not None and call["status"] != status:
                continue
            if since is not None and call["seq"] <= since:
                continue
            if regex is not None and regex.search(call["path"]) is None:
                continue
            out.append(call)
        return out

    def clear(self, provider: str | None = None) -> None:
        if provider is None:
            self._calls.clear()
        else:
            kept = [c for c in self._calls if c["provider"] != provider]
            self._calls.clear()
            self._calls.extend(kept)

    def __len__(self) -> int:
        return len(self._calls)
