"""Cost of encrypting every payload: workflows through the encrypted converter vs the plain
pydantic converter, same dev server, same process, same number of activities.

`python -m bench.codec [workflows]`; prints `BENCH codec ratio <encrypted/plain throughput>`.
"""

import asyncio
import sys
import time
import uuid
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from bench._workload import Echo, EchoWorkflow, echo
from core.crypto import Cipher, generate_key
from core.temporal import data_converter

TARGET = 0.8


async def _throughput(client: Client, count: int) -> float:
    queue = f"bench-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[EchoWorkflow], activities=[echo]):
        started = time.perf_counter()
        await asyncio.gather(
            *(
                client.execute_workflow(
                    EchoWorkflow.run, Echo(text="x" * 512, n=i), id=f"bench-{uuid.uuid4()}", task_queue=queue
                )
                for i in range(count)
            )
        )
        return count / (time.perf_counter() - started)


async def run(count: int) -> None:
    temporal = str(Path(sys.executable).parent / "temporal")
    async with await WorkflowEnvironment.start_local(dev_server_existing_path=temporal) as env:
        config = env.client.config()
        plain = Client(**{**config, "data_converter": pydantic_data_converter})
        encrypted = Client(**{**config, "data_converter": data_converter(Cipher(generate_key()))})
        await _throughput(plain, 20)  # warm-up
        base = await _throughput(plain, count)
        ours = await _throughput(encrypted, count)
    print(f"BENCH codec plain_workflows_per_s {base:.1f}")
    print(f"BENCH codec encrypted_workflows_per_s {ours:.1f}")
    print(f"BENCH codec ratio {ours / base:.2f} target >={TARGET}")


def main(count: int = 300) -> None:
    asyncio.run(run(count))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
