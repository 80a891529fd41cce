"""Serving the emulator app with uvicorn: in the foreground or in a background thread."""

from __future__ import annotations

import signal
import socket
import threading
import time
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
import uvicorn
from starlette.types import ASGIApp

from emulators.app import create_app

# Seconds uvicorn waits for in-flight requests (e.g. a scripted slow response) on shutdown.
GRACEFUL_SHUTDOWN_SECONDS = 2


def _config(
    host: str,
    port: int,
    log_level: str,
    providers: list[str] | None,
    app: ASGIApp | None = None,
    data_dir: Path | None = None,
) -> uvicorn.Config:
    return uvicorn.Config(
        app or create_app(providers, data_dir),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


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

    ``grpc_port`` gets a gRPC server with no services yet: the Speech-to-Text emulator will register
    on it, and readiness checks can already reach the endpoint.
    """
    grpc_server = None
    if grpc_port:
        grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        grpc_server.add_insecure_port(f"{host}:{grpc_port}")
        grpc_server.start()
    server = uvicorn.Server(_config(host, port, log_level, providers, data_dir=data_dir))
    if threading.current_thread() is not threading.main_thread():
        server.run()
        return
    # uvicorn handles SIGINT/SIGTERM itself (graceful shutdown), then re-raises the signal with the
    # previous handler in place; ours turns that into a normal return, so the process exits 0.
    stop_signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in stop_signals}
    try:
        server.run()
    except _Stopped:
        pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if grpc_server is not None:
            grpc_server.stop(grace=1)


class _Stopped(Exception):
    pass


def _raise_stopped(signum: int, frame: object) -> None:
    raise _Stopped


@dataclass
class RunningEmulator:
    """An emulator served from a background thread; ``url`` is e.g. ``http://127.0.0.1:54321``."""

    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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
    log_level: str = "warning",
    providers: list[str] | None = None,
    startup_timeout: float = 10.0,
    app: ASGIApp | None = None,
    data_dir: Path | None = None,
) -> RunningEmulator:
    """Start a server in a daemon thread (port 0 = a free port) and wait until it accepts requests.
    `app` serves another ASGI app the same way (a test's stand-in for a server of ours)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound_port = sock.getsockname()[1]
    server = uvicorn.Server(_config(host, bound_port, log_level, providers, app, data_dir))
    # Signal handlers can only be installed from the main thread; the owner stops us via stop().
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="emulators", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("emulator server did not start")
        time.sleep(0.01)
    return RunningEmulator(host=host, port=bound_port, server=server, thread=thread)
