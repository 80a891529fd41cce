"""The FastAPI application factory."""

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

import httpx
from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import bodies, keys, openapi, problems
from api.middleware import RequestContext
from api.routers import admin, codec, health, interviews, platform, routing, scheduling
from api.routers.interviews.recordings import UPLOAD_PATH
from core.codec import EncryptionCodec
from core.settings import Settings, get_settings
from core.temporal import cipher_from, connect
from store.blobs import LocalBlobs
from store.db import Database
from store.notify import NotifyHub


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    if not settings.database_url:
        raise RuntimeError("DATABASE_URL is not set (the dev stack sets it for the embedded PostgreSQL)")
    cipher = cipher_from(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.started = time.monotonic()
        app.state.cipher = cipher
        app.state.codec = EncryptionCodec(cipher)
        app.state.blobs = LocalBlobs(settings.blob_path)
        # Provider probes (connection tests, provider health) share one connection pool.
        app.state.http = httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=5.0))
        app.state.database = Database(
            settings.database_url, pool_size=settings.api_database_pool_size, pre_ping=False
        )  # type: ignore[arg-type]
        # Lazy: the API starts (and readiness reports it) even while Temporal is still coming up.
        app.state.temporal = await connect(settings, lazy=True)
        if settings.admin_api_key:
            async with app.state.database.transaction() as session:
                await keys.bootstrap_admin(session, settings.admin_api_key)
        # One listening connection for every Server-Sent Events stream of this process.
        app.state.notify = NotifyHub(settings.database_url, ["platform_events", "platform_logs"])  # type: ignore[arg-type]
        try:
            async with app.state.notify.running():
                yield
        finally:
            await app.state.http.aclose()
            await app.state.database.close()

    app = FastAPI(
        title="tempoline",
        version=version("tempoline"),
        description=(
            "Durable business pipelines on Temporal. Authenticate with `Authorization: Bearer <api key>`."
        ),
        lifespan=lifespan,
        dependencies=[Depends(bodies.no_nul_characters)],
    )
    problems.install(app)
    openapi.install(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.web_ui_origins,
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["authorization", "content-type", "x-namespace", "x-correlation-id"],
        allow_credentials=True,
    )
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.api_max_body_bytes,
        route_limits=[(UPLOAD_PATH, settings.interviews_max_upload_bytes)],
    )
    for router in (
        health.router,
        admin.router,
        codec.router,
        routing.router,
        platform.router,
        scheduling.router,
        interviews.router,
    ):
        app.include_router(router)
    return app
