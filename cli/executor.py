"""`tempoline executor`: a process that runs platform jobs on this host."""

from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import Worker

from activities.executor import ExecutorRun

# Cancellation reaches an activity only in the answer to a heartbeat, and the SDK sends those
# at most every 0.8 times the heartbeat timeout unless told otherwise: a cancelled job would keep
# running 12 s. One heartbeat a second per running job is cheap for the server.
HEARTBEAT_THROTTLE = timedelta(seconds=1)


def executor_worker(
    client: Client, run: ExecutorRun, task_queue: str, *, slots: int, drain_timeout: timedelta
) -> Worker:
    """The worker on the executor's own task queue: `slots` jobs at once, and on shutdown
    (draining) running jobs get `drain_timeout` to finish before they are cancelled."""
    return Worker(
        client,
        task_queue=task_queue,
        activities=[run.run],
        max_concurrent_activities=slots,
        graceful_shutdown_timeout=drain_timeout,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
    )
