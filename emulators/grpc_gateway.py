"""The gRPC side of the emulator server: every provider's gRPC methods on one ``grpc.aio`` server
that runs in the HTTP server's event loop, behind the same fixed latency, fault scripting and call
recording as the REST providers (:mod:`emulators.gateway`).

A gRPC call is matched against faults as ``POST`` with its full method name as the path
(``/google.cloud.speech.v1.Speech/LongRunningRecognize``); a fault's HTTP ``status`` is answered
with the gRPC code Google's APIs map it to (429 → RESOURCE_EXHAUSTED, 500 → INTERNAL, ...), and a
``retry_after`` travels as a ``google.rpc.RetryInfo`` detail and a ``retry-after`` trailer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import error_details_pb2, status_pb2

if TYPE_CHECKING:
    from emulators.faults import Fault
    from emulators.hub import Hub
    from emulators.providers.base import Provider

# The emulator accepts bigger messages than gRPC's default 4 MB, so a provider answers an
# oversized request with its own error (Speech: the 10 MB inline limit), as the real API does.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# Bytes that no protobuf parser accepts (an unterminated varint tag): a "malformed" answer.
MALFORMED_MESSAGE = b"\xff\xff\xff\xff"

# HTTP status of a scripted fault -> the gRPC code Google's APIs answer with
# (google.rpc.Code documents each code's HTTP mapping).
STATUS_TO_CODE: dict[int, grpc.StatusCode] = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ABORTED,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}
# ... and back, for the call log's ``status`` (the gRPC code itself is logged as ``grpc_status``).
CODE_TO_STATUS: dict[grpc.StatusCode, int] = {code: status for status, code in STATUS_TO_CODE.items()}
CODE_TO_STATUS |= {grpc.StatusCode.OK: 200, grpc.StatusCode.UNKNOWN: 500, grpc.StatusCode.DATA_LOSS: 500}


class GrpcError(Exception):
    """Raised by a provider's gRPC handler: the call ends with this code and message."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        retry_after: float | None = None,
        trailers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.trailers = trailers or {}


Metadata = dict[str, str]
Handler = Callable[[Any, Metadata], Awaitable[Any]]


@dataclass(frozen=True)
class GrpcMethod:
    """One unary gRPC method a provider serves: how to read its request, answer it, and log it."""

    deserialize: Callable[[bytes], Any]
    serialize: Callable[[Any], bytes]
    handler: Handler
    # The request as the call log shows it (JSON; large binary fields summarised).
    describe: Callable[[Any], Any]


def _http_status(code: grpc.StatusCode) -> int:
    return CODE_TO_STATUS.get(code, 500)


def _trailers(error: GrpcError) -> tuple[tuple[str, str | bytes], ...]:
    trailers: list[tuple[str, str | bytes]] = [(k.lower(), v) for k, v in error.trailers.items()]
    if error.retry_after is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(error.retry_after * 1e9))
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        status = status_pb2.Status(code=error.code.value[0], message=error.message, details=[detail])
        trailers.append(("grpc-status-details-bin", status.SerializeToString()))
        seconds = error.retry_after
        trailers.append(("retry-after", str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"))
    return tuple(trailers)


class GrpcGateway:
    """Builds the ``grpc.aio`` server for a hub's providers and wraps each method."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        # Requests a `late` fault applies after answering; kept so the tasks are not collected.
        self._late: set[asyncio.Task[Any]] = set()

    def methods(self) -> dict[str, tuple[Provider, GrpcMethod]]:
        return {
            path: (provider, method)
            for provider in self.hub.providers.values()
            for path, method in provider.grpc_methods.items()
        }

    def server(self) -> grpc.aio.Server:
        """A server with every provider's services registered (not started, no port yet).
        Call from the event loop that will run it."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
        )
        services: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
        for path, (provider, method) in self.methods().items():
            service, _, name = path.lstrip("/").partition("/")
            services.setdefault(service, {})[name] = grpc.unary_unary_rpc_method_handler(
                self._wrap(provider, path, method),
                request_deserializer=method.deserialize,
                # A malformed fault hands raw bytes through; everything else is a message.
                response_serializer=lambda answer, m=method: (
                    answer if isinstance(answer, bytes) else m.serialize(answer)
                ),
            )
        server.add_generic_rpc_handlers(
            [
                grpc.method_handlers_generic_handler(service, handlers)
                for service, handlers in services.items()
            ]
        )
        return server

    def _wrap(self, provider: Provider, path: str, method: GrpcMethod) -> Callable[..., Awaitable[Any]]:
        async def call(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.time()
            metadata = {k.lower(): v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
            fault = None
            code = grpc.StatusCode.OK
            try:
                await self.hub.latency.wait(provider.name)
                fault = self.hub.faults.pick(provider.name, "POST", path)
                answer = await self._answer(provider, method, fault, request, metadata)
            except GrpcError as error:
                code = error.code
                await context.abort(error.code, error.message, _trailers(error))
            except asyncio.CancelledError:  # the client gave up (its deadline) before the answer
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception:
                code = grpc.StatusCode.UNKNOWN
                raise
            finally:
                provider.observe("POST", path, _http_status(code))
                self.hub.calls.record(
                    provider=provider.name,
                    method="POST",
                    path=path,
                    query_string=b"",
                    raw_headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in metadata.items()],
                    body=b"",
                    json_body=method.describe(request),
                    status=_http_status(code),
                    grpc_status=code.name,
                    fault_id=fault.id if fault is not None else None,
                    started=started,
                    peer=context.peer(),
                )
            return answer

        return call

    async def _answer(
        self, provider: Provider, method: GrpcMethod, fault: Fault | None, request: Any, metadata: Metadata
    ) -> Any:
        if fault is None:
            return await method.handler(request, metadata)
        answers = fault.status is not None or fault.malformed or fault.drop
        if fault.when == "late":
            self._apply_later(method, request, metadata, fault.apply_after)
            return self._fault_answer(provider, fault)
        if fault.when == "instead":
            await asyncio.sleep(fault.delay)
            return self._fault_answer(provider, fault) if answers else await method.handler(request, metadata)
        # after: the provider applies the request, then the client gets the fault or a late answer
        try:
            answer = await method.handler(request, metadata)
        except GrpcError:
            if not answers:
                raise
        if answers:
            return self._fault_answer(provider, fault)
        await asyncio.sleep(fault.delay)
        return answer

    def _fault_answer(self, provider: Provider, fault: Fault) -> bytes:
        """Malformed bytes, or raises the fault's error."""
        if fault.malformed:
            return MALFORMED_MESSAGE
        if fault.drop:
            # A cut connection reaches a gRPC client as UNAVAILABLE; a stream cannot be cut alone.
            raise GrpcError(grpc.StatusCode.UNAVAILABLE, "Connection reset by peer", trailers=fault.headers)
        status = fault.status or 500
        message = fault.body if isinstance(fault.body, str) else provider.grpc_error_message(status, fault.id)
        raise GrpcError(
            STATUS_TO_CODE.get(status, grpc.StatusCode.UNKNOWN),
            message,
            retry_after=fault.retry_after,
            trailers=fault.headers,
        )

    def _apply_later(self, method: GrpcMethod, request: Any, metadata: Metadata, seconds: float) -> None:
        async def later() -> None:
            await asyncio.sleep(seconds)
            with contextlib.suppress(GrpcError):  # nobody is listening for this answer
                await method.handler(request, metadata)

        task = asyncio.get_running_loop().create_task(later())
        self._late.add(task)
        task.add_done_callback(self._late.discard)
