"""The executor dies with SIGKILL (no handler runs): the job's processes die with it."""

import asyncio
import signal
import sys
import time
from pathlib import Path

from tests.executor.procs import all_gone, members

ROOT = Path(__file__).resolve().parents[2]


async def test_sigkill_of_the_host_leaves_no_process_of_the_job():
    host = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.executor.host",
        "/bin/sh",
        "-c",
        "sleep 600 & sleep 600",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert host.stdout is not None
        pgid = int(await host.stdout.readline())
        running = await members(pgid, 2)  # both sleeps (the shell may have exec'd the last one)
        host.send_signal(signal.SIGKILL)
        await host.wait()
        started = time.monotonic()
        await all_gone(running)
        print(f"job's processes gone {(time.monotonic() - started) * 1000:.1f} ms after the host's SIGKILL")
    finally:
        if host.returncode is None:
            host.kill()
            await host.wait()
