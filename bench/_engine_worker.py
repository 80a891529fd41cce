"""`python -m bench._engine_worker QUEUE...`: the bare engine's task queues, served by a worker
process built and run as `worker.py` builds and runs the product's."""

import asyncio
import sys

from bench._engine import BareWorkflow, ShapedJobWorkflow, ShapedRoutingWorkflow
from bench._engine_work import step
from core import logging
from core.settings import get_settings
from registry import QueueSpec
from worker import run

BARE_QUEUE = "bench-bare"
SHAPED_QUEUE = "bench-shaped"
SPECS = {
    BARE_QUEUE: QueueSpec(BARE_QUEUE, workflows=[BareWorkflow], activities=[step]),
    SHAPED_QUEUE: QueueSpec(
        SHAPED_QUEUE, workflows=[ShapedJobWorkflow, ShapedRoutingWorkflow], activities=[step]
    ),
}


def main() -> None:
    settings = get_settings()
    logging.configure("bench-worker", settings.log_level)
    asyncio.run(run(settings, lambda _: [SPECS[queue] for queue in sys.argv[1:]]))


if __name__ == "__main__":
    main()
