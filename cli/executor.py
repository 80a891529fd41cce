"""`tempoline executor`: a process that runs platform jobs on this host.

It registers with the API (a one-time bootstrap token buys a worker id and a key), then serves
its own task queue, `platform-executor-{worker_id}`, where the job workflows send their attempts
(`platform.executor.run`), `slots` at a time. It heartbeats to the API so the scheduler knows it
lives and how busy it is. SIGTERM (or SIGINT, or `drain: true` in a heartbeat's answer) drains
it: it takes no new attempt, lets the running ones finish, deregisters and exits 0. It reaches
the API and Temporal, never PostgreSQL.
"""

import asyncio
import contextlib
import signal
import socket
from dataclasses import dataclass
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from activities.executor import ExecutorRun
from clients.tempoline_api import ApiError, Registered, Registration, TempolineApi
from core import logging, startup
from core.settings import Settings
from core.temporal import connect

# Cancellation reaches an activity only in the answer to a heartbeat, and the SDK sends those
# at most every 0.8 times the heartbeat timeout unless told otherwise: a cancelled job would keep
# running 12 s. One heartbeat a second per running job is cheap for the server.
HEARTBEAT_THROTTLE = timedelta(seconds=1)
# Registration retries a connection the API refused (nothing was sent, so the one-time token
# cannot be spent twice): the dev stack starts the API and an executor together. httpx backs off
# exponentially from 0.5 s; eight retries wait about a minute in all. A request that was sent and
# got no answer is not retried: the token may be spent, and only an admin can issue another.
REGISTER_CONNECT_RETRIES = 8
# Once registered, a connection the API refuses (it is restarting) is retried for a few seconds
# (0.5 + 1 + 2 + 4 s): the request was not sent, so this is safe for every call, and a failed
# call inside the run activity would cost the job an attempt and kill its process. Meanwhile the
# job's output waits (and the job blocks once its pipes are full). Anything longer, or a
# request that was sent, fails the call; Temporal and the job's attempts take it from there.
RUN_CONNECT_RETRIES = 5

log = logging.get_logger("executor")


@dataclass(frozen=True)
class ExecutorOptions:
    worker_type: str
    capabilities: list[str]
    slots: int
    cpu_millis: int
    memory_mb: int
    bootstrap_token: str
    drain_timeout: timedelta


def executor_worker(
    client: Client, run: ExecutorRun, task_queue: str, *, slots: int, drain_timeout: timedelta
) -> Worker:
    """The worker on the executor's own task queue: `slots` jobs at once, and on shutdown
    (draining) running jobs get `drain_timeout` to finish before they are cancelled (and their
    process groups stopped)."""
    return Worker(
        client,
        task_queue=task_queue,
        activities=[run.run],
        max_concurrent_activities=slots,
        graceful_shutdown_timeout=drain_timeout,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    )


async def register(settings: Settings, options: ExecutorOptions) -> Registered:
    async with TempolineApi.http_client(settings.api_url, connect_retries=REGISTER_CONNECT_RETRIES) as http:
        return await TempolineApi(http).register(
            Registration(
                bootstrap_token=options.bootstrap_token,
                worker_type=options.worker_type,
                capabilities=options.capabilities,
                slots=options.slots,
                cpu_millis=options.cpu_millis,
                memory_mb=options.memory_mb,
                hostname=socket.gethostname(),
            )
        )


async def _heartbeats(
    api: TempolineApi, registered: Registered, run: ExecutorRun, drain: asyncio.Event
) -> None:
    """The executor's liveness, at the interval the API asked for (the API's contract, not a
    poll for work: work arrives through Temporal). A failed heartbeat is logged and the next one
    is the retry; the API declares the worker offline only after several are missed. An answer
    with `drain: true` (an admin drained this worker) drains it as SIGTERM does."""
    while True:
        try:
            answer = await api.heartbeat(registered.worker_id, running=run.running, draining=drain.is_set())
        except ApiError as exc:
            log.warning("heartbeat failed", error=str(exc))
        else:
            if answer.drain and not drain.is_set():
                log.info("the API asked this worker to drain")
                drain.set()
        await asyncio.sleep(registered.heartbeat_interval_seconds)


async def serve(
    settings: Settings, options: ExecutorOptions, registered: Registered, client: Client, drain: asyncio.Event
) -> None:
    """Runs attempts until `drain` is set, then drains and deregisters."""
    async with TempolineApi.http_client(settings.api_url, connect_retries=RUN_CONNECT_RETRIES) as http:
        api = TempolineApi(http, registered.api_key)
        run = ExecutorRun(api)
        worker = executor_worker(
            client, run, registered.task_queue, slots=options.slots, drain_timeout=options.drain_timeout
        )
        beats = asyncio.create_task(_heartbeats(api, registered, run, drain))
        polling = asyncio.create_task(worker.run())
        log.info("executor running", task_queue=registered.task_queue, slots=options.slots)
        try:
            waiting = asyncio.create_task(drain.wait())
            done, _ = await asyncio.wait({polling, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if polling in done:
                polling.result()  # the worker failed on its own: raise why
            log.info("draining", running=run.running, timeout_seconds=options.drain_timeout.total_seconds())
            await worker.shutdown()
            await polling
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
        try:
            await api.deregister(registered.worker_id)
        except ApiError as exc:  # the API marks it offline once its heartbeats stop anyway
            log.warning("deregistration failed", error=str(exc))
        else:
            log.info("deregistered")


async def run(settings: Settings, options: ExecutorOptions) -> None:
    drain = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, drain.set)
    registered = await register(settings, options)
    structlog.contextvars.bind_contextvars(worker_id=str(registered.worker_id))
    log.info("registered", task_queue=registered.task_queue, worker_type=options.worker_type)
    client = await connect(settings)
    startup.over()
    await serve(settings, options, registered, client, drain)
