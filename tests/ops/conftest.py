"""Deployment files are checked with the tools that read them in production: `docker-compose`
and `promtool` from Debian packages. A machine without them gets them here (CI runs as root on a
fresh Debian), so these tests never skip for want of a tool."""

import asyncio
import contextlib
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.worker import Worker

import worker
from activities.dependencies import Dependencies
from core.settings import Settings
from core.temporal import connect
from registry import task_queues
from tests.conftest import free_port, terminate_running
from tests.integration import live_api

ROOT = Path(__file__).resolve().parents[2]


def debian_tool(command: str, package: str) -> str:
    """The path of `command`, installing its Debian package first when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    apt = {"env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, "capture_output": True, "text": True}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    result = subprocess.run(install, **apt)  # type: ignore[call-overload]
    if result.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-q"], check=False, **apt)  # type: ignore[call-overload]
        result = subprocess.run(install, **apt)  # type: ignore[call-overload]
    found = shutil.which(command)
    if not found:
        pytest.fail(f"`{command}` is needed and `apt-get install {package}` failed:\n{result.stderr}")
    return found


@pytest.fixture(scope="session")
def docker_compose() -> str:
    return debian_tool("docker-compose", "docker-compose")


@pytest.fixture(scope="session")
def promtool() -> str:
    return debian_tool("promtool", "prometheus")


@dataclass
class Stack:
    api_url: str
    worker_metrics_url: str
    client: Client


@contextlib.asynccontextmanager
async def running_stack(
    settings: Settings, extra_workers: Sequence[Callable[[Client], Worker]] = ()
) -> AsyncIterator[Stack]:
    """The API on a real port and every built context's worker served as `worker.py` serves them:
    one Temporal runtime exporting the SDK's metrics, ours and the process's."""
    port = free_port()
    runtime = worker.runtime(settings.model_copy(update={"worker_metrics_port": port}))
    client = await connect(settings, runtime=runtime)
    stop = asyncio.Event()
    async with (
        live_api.serve(settings) as api_url,
        Dependencies.open(settings) as deps,
        contextlib.AsyncExitStack() as stack,
    ):
        for w in [
            *worker.build_workers(client, task_queues(deps)),
            *(make(client) for make in extra_workers),
        ]:
            await stack.enter_async_context(w)
        sampling = asyncio.create_task(worker.sample_process(runtime.metric_meter, stop))
        try:
            yield Stack(api_url, f"http://127.0.0.1:{port}/metrics", client)
        finally:
            await terminate_running(client, "Routing", "ServiceJob", "PlatformJob")
            stop.set()
            await sampling
