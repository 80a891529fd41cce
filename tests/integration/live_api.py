"""The API served by uvicorn on a real port, in the test's event loop: for what only real HTTP
shows (when the response leaves relative to the commit, access logs, Schemathesis)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn

from api.app import create_app
from core.settings import Settings
from tests.conftest import free_port


@asynccontextmanager
async def serve(settings: Settings) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
