"""Runs the Temporal workers: `python worker.py --queues scheduling,routing` (default: all).

Each bounded context contributes its task queues (workflows and activities) through
`registry.py` beside it; this module only wires them to Temporal and handles the process lifecycle.
Scale out by starting more processes: Temporal spreads tasks across every poller.
"""

import argparse
import asyncio
import contextlib
import py_compile
import signal
import sys
from collections.abc import Callable
from contextlib import AsyncExitStack
from datetime import timedelta

import psutil
from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import Worker

from activities.dependencies import Dependencies
from activities.interview_metrics import STAGE_BUCKETS, STAGE_DURATION
from activities.rate_limit import WAIT_BUCKETS, WAIT_METRIC
from core import logging, startup
from core.settings import Settings, get_settings
from core.temporal import connect
from registry import QueueSpec, task_queues

# Below the dev stack's 15 s stop budget: in-flight activities get this long to finish.
GRACEFUL_SHUTDOWN = timedelta(seconds=10)
PROCESS_SAMPLE_SECONDS = 5.0
log = logging.get_logger("worker")


def build_workers(client: Client, specs: list[QueueSpec]) -> list[Worker]:
    return [
        Worker(
            client,
            task_queue=spec.name,
            workflows=spec.workflows,
            activities=spec.activities,
            max_task_queue_activities_per_second=spec.max_activities_per_second,
            max_concurrent_activities=spec.max_concurrent_activities,
            max_concurrent_local_activities=spec.max_concurrent_local_activities,
            graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        )
        for spec in specs
    ]


def _cache_workflow_bytecode(specs: list[QueueSpec]) -> None:
    """The workflow sandbox imports a workflow's module afresh for every workflow run. Without
    cached bytecode (a checkout run with PYTHONDONTWRITEBYTECODE, as many images set) that is a
    compile of the module every time: 10 ms for a 400-line module. Installed packages have
    theirs from pip; a source tree that cannot be written to keeps compiling."""
    modules = {sys.modules[workflow.__module__] for spec in specs for workflow in spec.workflows}
    for module in modules:
        if module.__file__ and module.__file__.endswith(".py"):
            with contextlib.suppress(OSError, py_compile.PyCompileError):
                py_compile.compile(module.__file__, doraise=True)


async def sample_process(meter: MetricMeter, stop: asyncio.Event) -> None:
    """The process's start time and memory, under the names prometheus_client gives the API's, so
    one alert rule covers both: the SDK's Prometheus exporter has no process collector. Sampled
    (the exporter cannot call us back at scrape time) at a fraction of a scrape interval."""
    process = psutil.Process()
    meter.create_gauge_float("process_start_time_seconds", "Start time of the process").set(
        process.create_time()
    )
    memory = meter.create_gauge("process_resident_memory_bytes", "Resident memory of the process")
    while not stop.is_set():
        memory.set(process.memory_info().rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PROCESS_SAMPLE_SECONDS)


async def serve(workers: list[Worker], stop: asyncio.Event, meter: MetricMeter | None = None) -> None:
    if not workers:
        # Until a pipeline registers its queues the process idles, so the dev stack stays up.
        log.warning("no pipeline registered in registry.py; idling until stopped")
    async with AsyncExitStack() as stack:
        for w in workers:
            await stack.enter_async_context(w)
        log.info("workers running", task_queues=[w.task_queue for w in workers])
        if meter is not None:
            await sample_process(meter, stop)
        await stop.wait()
        log.info("shutting down workers", graceful_seconds=GRACEFUL_SHUTDOWN.total_seconds())


def runtime(settings: Settings) -> Runtime:
    """SDK metrics (task latency, slots, poll results...) and ours share one Prometheus endpoint."""
    if not settings.worker_metrics_port:
        return Runtime(telemetry=TelemetryConfig())
    bind = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
    try:
        buckets = {WAIT_METRIC: WAIT_BUCKETS, STAGE_DURATION: STAGE_BUCKETS}
        metrics = PrometheusConfig(bind_address=bind, histogram_bucket_overrides=buckets)
        return Runtime(telemetry=TelemetryConfig(metrics=metrics))
    except ValueError as exc:  # the port is taken: most often another worker on this host
        raise SystemExit(
            f"worker metrics: cannot listen on {bind} ({exc}); give each worker process on a "
            "host its own TEMPOLINE_WORKER_METRICS_PORT, or 0 to serve no metrics"
        ) from None


async def run(settings: Settings, queues: Callable[[Dependencies], list[QueueSpec]]) -> None:
    """Serves `queues` until SIGINT or SIGTERM, then drains gracefully."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async with Dependencies.open(settings) as deps:
        specs = queues(deps)
        _cache_workflow_bytecode(specs)
        metrics = runtime(settings)
        client = await connect(settings, runtime=metrics)
        for spec in specs:
            if spec.prepare is not None:
                await spec.prepare(client)
        startup.over()
        meter = metrics.metric_meter if settings.worker_metrics_port else None
        await serve(build_workers(client, specs), stop, meter)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queues", default="", help="comma-separated contexts or task queues (default: all)")
    args = parser.parse_args(argv)
    settings = get_settings()
    logging.configure("worker", settings.log_level)
    await run(settings, lambda deps: task_queues(deps, [q for q in args.queues.split(",") if q]))


if __name__ == "__main__":
    asyncio.run(main())
