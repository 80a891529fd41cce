"""A job's processes, started under a reaper (activities/reaper.py) so that a stop, a run
timeout and the executor's own death all end every one of them."""

import array
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from activities import reaper

# Read size and StreamReader limit for the job's pipes: asyncio stops reading a pipe whose buffer
# holds twice this, so an output consumer that stalls stalls the job, not the executor's memory.
PIPE_LIMIT = 64 * 1024
REQUEST_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class Exit:
    exit_code: int | None  # None when a signal ended the job's main process
    signal: int | None


class ServerEnded(RuntimeError):
    """The reaper server did not answer a request."""


class Reapers:
    """The reaper server (activities/reaper.py) of the thread running the executor's event loop,
    started with the first job. A request is answered within the call: a fork in the server,
    about a millisecond, blocking the loop no longer than starting a subprocess would."""

    _of_thread: ClassVar[dict[int, "Reapers"]] = {}

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # Started from this thread, the event loop's: PR_SET_PDEATHSIG fires when the thread
            # that started it ends, which for the loop's thread is when the executor does.
            self._server = subprocess.Popen(
                [sys.executable, "-I", "-S", reaper.__file__, str(os.getpid()), str(theirs.fileno())],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
                env={},
            )
        finally:
            theirs.close()
        # A server that stopped answering (stopped, swapped out) fails the attempt, not the loop.
        ours.settimeout(REQUEST_TIMEOUT_SECONDS)
        self._socket = ours
        self._answers = ours.makefile("rb")
        self.pid = self._server.pid

    @classmethod
    def of_this_thread(cls) -> "Reapers":
        """This thread's server; a new one if it has ended (killed: its reapers went with it)."""
        thread = threading.get_ident()
        reapers = cls._of_thread.get(thread)
        if reapers is None or reapers._server.poll() is not None:
            reapers = cls._of_thread[thread] = cls()
        return reapers

    @classmethod
    def start_in_this_thread(
        cls, argv: Sequence[str], env: Mapping[str, str], cwd: Path, fds: Sequence[int]
    ) -> tuple["Reapers", int]:
        """`start` on this thread's server, once more on a new one if it died meanwhile (a
        reaper it may have forked for the first request died with it: nothing runs twice)."""
        reapers = cls.of_this_thread()
        try:
            return reapers, reapers.start(argv, env, cwd, fds)
        except ServerEnded:
            with contextlib.suppress(subprocess.TimeoutExpired):
                reapers._server.wait(timeout=1.0)  # a server whose socket closed is exiting
            if reapers._server.returncode is None:
                raise  # alive but not answering: not ours to replace
        reapers = cls.of_this_thread()
        return reapers, reapers.start(argv, env, cwd, fds)

    def _send(self, request: dict[str, Any], fds: Sequence[int] = ()) -> None:
        body = json.dumps(request).encode()
        message = reaper.LENGTH.pack(len(body)) + body
        passed = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []
        sent = self._socket.sendmsg([message], passed)
        self._socket.sendall(message[sent:])

    def start(self, argv: Sequence[str], env: Mapping[str, str], cwd: Path, fds: Sequence[int]) -> int:
        """A reaper running `argv`, given the job's stdout, stderr and control pipe: its pid."""
        try:
            self._send({"argv": list(argv), "env": dict(env), "cwd": str(cwd)}, fds)
            answer = self._answers.readline()
        except OSError as exc:
            raise ServerEnded(f"the reaper server did not answer: {exc!r}") from exc
        if not answer:
            raise ServerEnded(f"the reaper server has ended (exit status {self._server.poll()})")
        pid: int = json.loads(answer)["pid"]
        return pid

    def release(self, pid: int) -> None:
        """The reaper's last word has been read: the server may reap it (and its pid be reused)."""
        with contextlib.suppress(OSError):  # the server is gone, and the reaper with it
            self._send({"release": pid})


class ProcessGroup:
    """One running job: its pid (also its process group id), its stdout and stderr, and the
    reaper that holds the group. Signals go through the reaper, which alone knows whether the
    group id still belongs to the job."""

    def __init__(
        self,
        reapers: Reapers,
        reaper_pid: int,
        control: asyncio.StreamReader,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        pid: int,
    ) -> None:
        self._reapers = reapers
        self._reaper_pid = reaper_pid
        self._control = control
        self.pid = pid
        self.stdout = stdout
        self.stderr = stderr
        self._exit: asyncio.Future[Exit] = asyncio.get_running_loop().create_future()
        self._watch = asyncio.create_task(self._read_exit())
        self._released = False

    @classmethod
    async def start(cls, argv: Sequence[str], env: Mapping[str, str], cwd: Path) -> "ProcessGroup":
        """Starts `argv` (PATH is searched with `env`'s PATH); returns once it has a pid."""
        pipes = [os.pipe() for _ in range(3)]  # stdout, stderr, control
        try:
            reapers, reaper_pid = Reapers.start_in_this_thread(argv, env, cwd, [write for _, write in pipes])
        except BaseException:
            for read, _ in pipes:
                os.close(read)
            raise
        finally:
            for _, write in pipes:
                os.close(write)
        files = [os.fdopen(read, "rb", 0) for read, _ in pipes]
        transports: list[asyncio.BaseTransport] = []
        try:
            readers = []
            for file in files:
                reader, transport = await _reader(file, PIPE_LIMIT)
                readers.append(reader)
                transports.append(transport)
            stdout, stderr, control = readers
            first = (await control.readline()).decode().split()
        except BaseException:
            # Cancelled before the job's pid is known: the reaper goes, and the kernel takes the
            # job's main process with it (its PR_SET_PDEATHSIG), if it was started at all.
            with contextlib.suppress(ProcessLookupError):
                os.kill(reaper_pid, signal.SIGKILL)
            reapers.release(reaper_pid)
            for transport in transports:
                transport.close()
            for file in files[len(transports) :]:
                file.close()
            raise
        if first[:1] != ["started"]:
            reapers.release(reaper_pid)
            raise RuntimeError("the reaper did not start the job")
        return cls(reapers, reaper_pid, control, stdout, stderr, int(first[1]))

    async def _read_exit(self) -> Exit:
        # The reaper's word, not its exit: the pipes close only once read to their end, and a
        # fenced attempt's output is no longer read (see close()).
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
        pipes to their end (bounded: no process writes to them any more), so they are released,
        and lets the server reap the reaper."""
        await self.wait()
        for stream in (self.stdout, self.stderr):
            while await stream.read(PIPE_LIMIT):
                pass
        if not self._released:
            self._released = True
            self._reapers.release(self._reaper_pid)

    def _signal(self, sig: int) -> None:
        # Until released, the server has not reaped the reaper: its pid is still its own.
        if not self._released:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._reaper_pid, sig)

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


async def _reader(file: Any, limit: int) -> tuple[asyncio.StreamReader, asyncio.BaseTransport]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=limit)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), file)
    return reader, transport
