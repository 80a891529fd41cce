"""A job's processes, started under a reaper (activities/reaper.py) so that a stop, a run
timeout and the executor's own death all end every one of them."""

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

REAPER = Path(__file__).with_name("reaper.py")
# Read size and StreamReader limit for the job's pipes: asyncio stops reading a pipe whose buffer
# holds twice this, so an output consumer that stalls stalls the job, not the executor's memory.
PIPE_LIMIT = 64 * 1024


@dataclass(frozen=True)
class Exit:
    exit_code: int | None  # None when a signal ended the job's main process
    signal: int | None


class ProcessGroup:
    """One running job: its pid (also its process group id), its stdout and stderr, and the
    reaper that holds the group. Signals go through the reaper, which alone knows whether the
    group id still belongs to the job."""

    def __init__(self, reaper: asyncio.subprocess.Process, control: asyncio.StreamReader, pid: int) -> None:
        self._reaper = reaper
        self._control = control
        self.pid = pid
        assert reaper.stdout is not None and reaper.stderr is not None
        self.stdout: asyncio.StreamReader = reaper.stdout
        self.stderr: asyncio.StreamReader = reaper.stderr
        self._exit: asyncio.Future[Exit] = asyncio.get_running_loop().create_future()
        self._watch = asyncio.create_task(self._read_exit())

    @classmethod
    async def start(cls, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> "ProcessGroup":
        """Starts `argv` (PATH is searched with `env`'s PATH); returns once it has a pid.

        The reaper is forked from the calling thread, the event loop's: PR_SET_PDEATHSIG fires
        when that thread ends, which for the loop's thread is when the executor does."""
        read_fd, write_fd = os.pipe()
        try:
            reaper = await asyncio.create_subprocess_exec(
                sys.executable,
                "-I",  # neither PYTHON* variables nor the job's cwd reach the reaper's imports
                "-S",  # no site-packages: it needs the standard library only, and starts faster
                str(REAPER),
                str(os.getpid()),
                str(write_fd),
                "--",
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=dict(env),
                cwd=cwd,
                pass_fds=(write_fd,),
                # Its own session: a terminal's Ctrl-C for the executor does not reach the job.
                start_new_session=True,
                limit=PIPE_LIMIT,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        try:
            control = await _reader(read_fd)
            first = (await control.readline()).decode().split()
        except BaseException:
            # Cancelled before the job's pid is known: the reaper goes, and the kernel takes the
            # job's main process with it (its PR_SET_PDEATHSIG), if it was started at all.
            with contextlib.suppress(ProcessLookupError):
                reaper.kill()
            raise
        if first[:1] != ["started"]:
            await reaper.wait()
            raise RuntimeError(f"the reaper did not start the job (exit status {reaper.returncode})")
        return cls(reaper, control, int(first[1]))

    async def _read_exit(self) -> Exit:
        # The reaper's word, not its exit: asyncio's Process.wait() also waits for the pipes to
        # close, which they do only once read to their end, and a fenced attempt's output is
        # no longer read (see close()).
        try:
            words = (await self._control.readline()).decode().split()
        except BaseException as exc:
            if not self._exit.done():
                self._exit.set_exception(exc)
            raise
        if words[:1] == ["exited"]:
            result = Exit(exit_code=int(words[1]), signal=None)
        elif words[:1] == ["killed"]:
            result = Exit(exit_code=None, signal=int(words[1]))
        else:  # the reaper itself was killed: the kernel ended the job's main process with it
            result = Exit(exit_code=None, signal=signal.SIGKILL)
        self._exit.set_result(result)
        return result

    async def wait(self) -> Exit:
        """Once every process of the job has ended."""
        return await asyncio.shield(self._exit)

    async def close(self) -> None:
        """Once the group is gone and nothing else reads its output: reads what is left in the
        pipes to their end (bounded: no process writes to them any more), so they and the
        reaper's transport are released."""
        await self.wait()
        for stream in (self.stdout, self.stderr):
            while await stream.read(PIPE_LIMIT):
                pass
        await self._reaper.wait()

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self._reaper.send_signal(sig)

    def terminate(self) -> None:
        """SIGTERM to every process of the group."""
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL to every process of the group."""
        self._signal(signal.SIGUSR1)

    async def stop(self, grace_seconds: float) -> Exit:
        """SIGTERM, then SIGKILL if anything is left after `grace_seconds`; returns once all are gone."""
        if not self._exit.done():
            self.terminate()
            try:
                async with asyncio.timeout(grace_seconds):
                    return await self.wait()
            except TimeoutError:
                self.kill()
        return await self.wait()


async def _reader(fd: int) -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0))
    return reader
