"""Serving the emulator app with uvicorn: in the foreground or in a background thread."""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from emulators.app import create_app
from emulators.grpc_gateway import GrpcGateway
from emulators.hub import Hub

# Seconds uvicorn waits for in-flight requests (e.g. a scripted slow response) on shutdown.
GRACEFUL_SHUTDOWN_SECONDS = 2


def _config(host: str, port: int, log_level: str, app: ASGIApp) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


async def _serve(
    server: uvicorn.Server,
    sockets: list[socket.socket] | None = None,
    hub: Hub | None = None,
    grpc_address: str | None = None,
    on_grpc_port: Callable[[int], None] | None = None,
) -> None:
    """The HTTP server and, with ``hub`` and ``grpc_address``, the gRPC one, in one event loop:
    providers' state, faults and the call log are only ever touched from this loop."""
    grpc_server = None
    if hub is not None and grpc_address is not None:
        grpc_server = GrpcGateway(hub).server()
        port = grpc_server.add_insecure_port(grpc_address)
        if port == 0:
            raise RuntimeError(f"gRPC port {grpc_address} is not available")
        await grpc_server.start()
        if on_grpc_port is not None:
            on_grpc_port(port)
    try:
        await server.serve(sockets)
    finally:
        if grpc_server is not None:
            await grpc_server.stop(grace=GRACEFUL_SHUTDOWN_SECONDS)


def _run_loop(server: uvicorn.Server, serve: Coroutine[Any, Any, None]) -> None:
    """Run ``serve`` in the event loop uvicorn would pick (uvloop when installed): on the plain
    asyncio loop the same app answered about 20 requests a second here instead of 3 000."""
    with asyncio.Runner(loop_factory=server.config.get_loop_factory()) as runner:
        runner.run(serve)


def run(
    host: str = "127.0.0.1",
    port: int = 8400,
    *,
    grpc_port: int | None = None,
    log_level: str = "info",
    providers: list[str] | None = None,
    data_dir: Path | None = None,
) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn installs the handlers).

    ``grpc_port`` serves the gRPC providers (Speech-to-Text) there; None: no gRPC server.
    """
    app = create_app(providers, data_dir)
    server = uvicorn.Server(_config(host, port, log_level, app))
    grpc_address = f"{host}:{grpc_port}" if grpc_port is not None else None
    serve = _serve(server, None, app.state.hub, grpc_address)
    if threading.current_thread() is not threading.main_thread():
        _run_loop(server, serve)
        return
    # uvicorn handles SIGINT/SIGTERM itself (graceful shutdown), then re-raises the signal with the
    # previous handler in place; ours turns that into a normal return, so the process exits 0.
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in stop_signals}
    try:
        _run_loop(server, serve)
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Stopped(Exception):
    pass


def _raise_stopped(signum: int, frame: object) -> None:
    raise _Stopped


@dataclass
class RunningEmulator:
    """An emulator served from a background thread; ``url`` is e.g. ``http://127.0.0.1:54321``,
    ``grpc_target`` e.g. ``127.0.0.1:54322`` (None when no gRPC server runs)."""

    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread
    grpc_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def grpc_target(self) -> str | None:
        return f"{self.host}:{self.grpc_port}" if self.grpc_port is not None else None

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)

    def __enter__(self) -> RunningEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    grpc_port: int | None = 0,
    log_level: str = "warning",
    providers: list[str] | None = None,
    startup_timeout: float = 10.0,
    app: ASGIApp | None = None,
    data_dir: Path | None = None,
) -> RunningEmulator:
    """Start a server in a daemon thread (port 0 = a free port) and wait until it accepts requests;
    the gRPC providers on ``grpc_port`` (0 = a free port, None = none).
    `app` serves another ASGI app the same way (a test's stand-in for a server of ours; no gRPC)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    emulator_app = create_app(providers, data_dir) if app is None else None
    server = uvicorn.Server(_config(host, bound_port, log_level, app or emulator_app))
    bound_grpc: list[int] = []
    hub = emulator_app.state.hub if emulator_app is not None else None
    grpc_address = f"{host}:{grpc_port}" if grpc_port is not None else None
    serve = _serve(server, [sock], hub, grpc_address, bound_grpc.append)
    thread = threading.Thread(target=_run_loop, args=(server, serve), name="emulators", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("emulator server did not start")
        time.sleep(0.01)
    return RunningEmulator(
        host=host,
        port=bound_port,
        server=server,
        thread=thread,
        grpc_port=bound_grpc[0] if bound_grpc else None,
    )
