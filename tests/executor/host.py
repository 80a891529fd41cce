"""A process hosting a running job, for the test that kills it with SIGKILL:
`python -m tests.executor.host ARGV...` prints the job's pid, then waits for it."""

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from activities.process_group import ProcessGroup


async def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        group = await ProcessGroup.start(argv, {"PATH": os.environ["PATH"]}, Path(scratch))
        print(group.pid, flush=True)
        await group.wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
