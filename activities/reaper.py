"""The supervisors between the executor and its jobs' processes (Linux).

    python -I -S reaper.py EXECUTOR_PID SOCKET_FD

The executor starts this once (activities/process_group.py): a stdlib-only server that forks one
reaper per attempt on request. Forking this small process, with what a reaper needs already
imported, costs about a millisecond where starting a Python per attempt cost 22 ms of wall time
and 14 ms of CPU (docs/executor.md).

The server asks the kernel for SIGKILL when the executor dies (PR_SET_PDEATHSIG), then checks that
the executor is still its parent. On SOCKET_FD (a Unix stream socket) each request is a 4-byte
length and a JSON body: `{"argv": [...], "env": {...}, "cwd": "..."}` with three descriptors
passed along (the job's stdout and stderr, and the control pipe), answered `{"pid": REAPER_PID}`;
or `{"release": REAPER_PID}`, unanswered. The server reaps a reaper only once it is released (the
executor has read its last word), so the executor may signal the pid until then: it cannot have
been reused. When the socket closes, the server exits.

Each reaper, in its own session, does four things:

- It asks the kernel for SIGUSR1 when the server dies (PR_SET_PDEATHSIG): the executor's death
  kills the server, and so reaches every reaper.
- It forks the job into a process group of its own (group id = the job's pid), so one signal
  reaches every descendant that stays in the group (a job that calls setsid leaves it).
- It turns signals into signals to that group: SIGTERM → SIGTERM (the graceful stop), SIGUSR1
  (from the executor after the grace period, or from the kernel when the server died) → SIGKILL.
- It waits for the job's main process without reaping it (WNOWAIT): the zombie keeps its pid, so
  the group id cannot be reused by another process while the reaper may still signal it. Then it
  kills what is left of the group (background children of a finished job: they would otherwise
  outlive the attempt and hold its output pipes open), and, being a child subreaper, every
  orphan that left the group (setsid) and was handed to it; it reaps them all and reports.

Control lines written to the control pipe: `started <pid>`, then `exited <code>` or
`killed <signal>`. The job's stdout and stderr are the reaper's own (the executor's pipes); the
reaper lets go of them once the job runs, so the pipes end when the last process of the group does.
"""

import array
import contextlib
import ctypes
import json
import os
import signal
import socket
import struct
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
EXEC_FAILED = 127  # what shells answer for a command that cannot be run
LENGTH = struct.Struct("!I")
PASSED_FDS = 3  # stdout, stderr, control
LIBC = ctypes.CDLL(None, use_errno=True)


def _prctl(option: int, value: int) -> None:
    if LIBC.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option})")


def _children() -> list[int]:
    """This process's children: the kernel's list of them (one read), else from every process's
    stat line (`pid (comm) state ppid ...`: a scan of /proc, a millisecond with 70 processes)."""
    me = os.getpid()
    try:
        with open(f"/proc/{me}/task/{me}/children", "rb") as f:  # single-threaded: its one task
            return [int(pid) for pid in f.read().split()]
    except FileNotFoundError:  # a kernel without CONFIG_PROC_CHILDREN
        pass
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue  # it ended while we looked
        if int(fields[1]) == me:
            found.append(int(entry))
    return found


def _kill_descendants() -> None:
    """SIGKILL to every child until none is left. A killed child's own children are handed to
    us (we are their subreaper), so each round finds the next generation."""
    while True:
        for pid in _children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _child(argv: list[str], control_fd: int, reaper_pid: int) -> None:
    """In the job's forked process: become a group of its own and run the job; never returns."""
    try:
        os.close(control_fd)
        # Should the reaper itself be killed, the job's main process goes with it (and if it
        # already went, the job does not start).
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != reaper_pid:
            os._exit(EXEC_FAILED)
        os.setpgid(0, 0)
        # Python ignores SIGPIPE (and SIGXFSZ); an ignored signal stays ignored across exec,
        # and `yes | head` would then spin on EPIPE instead of dying.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGTERM, signal.SIGUSR1, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)
        os.execvp(argv[0], argv)
    except OSError as exc:
        os.write(2, f"tempoline: cannot run {argv[0]!r}: {exc.strerror}\n".encode())
    finally:
        os._exit(EXEC_FAILED)


def reap(server_pid: int, control_fd: int, argv: list[str]) -> int:
    """One attempt's reaper, in a process forked by the server: runs `argv` to its end."""
    state = {"pid": 0, "reaped": False}

    def forward(sig: int, _frame: object) -> None:
        # Only while the main process is unreaped: its pid (the group id) is ours until then.
        if state["pid"] and not state["reaped"]:
            target = signal.SIGTERM if sig == signal.SIGTERM else signal.SIGKILL
            with contextlib.suppress(ProcessLookupError):
                os.killpg(state["pid"], target)

    for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP):
        signal.signal(sig, forward)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C is the executor's to handle
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    if os.getppid() != server_pid:
        return 1  # the server (so the executor) died before we could ask to hear of it: start nothing

    # Signals wait until the handler knows the pid (a blocked mask is inherited: the child
    # clears it before exec).
    handled = {signal.SIGTERM, signal.SIGUSR1, signal.SIGHUP}
    signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    reaper_pid = os.getpid()
    pid = os.fork()
    if pid == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        _child(argv, control_fd, reaper_pid)
    state["pid"] = pid
    signal.pthread_sigmask(signal.SIG_UNBLOCK, handled)
    # The parent side of the child's setpgid, so no signal can find the group missing.
    # PermissionError: already exec'd (then it did it itself); ProcessLookupError: already gone.
    with contextlib.suppress(PermissionError, ProcessLookupError):
        os.setpgid(pid, pid)
    os.write(control_fd, f"started {pid}\n".encode())
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    state["reaped"] = True  # from here on nothing signals the group id
    _kill_descendants()
    if info.si_code == os.CLD_EXITED:
        os.write(control_fd, f"exited {info.si_status}\n".encode())
    else:  # CLD_KILLED or CLD_DUMPED
        os.write(control_fd, f"killed {info.si_status}\n".encode())
    return 0


def _start_reaper(server: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked reaper: the job's environment, directory and output, then its run."""
    try:
        server.close()
        stdout, stderr, control = fds
        os.setsid()  # its own session: a terminal's Ctrl-C for the executor does not reach the job
        stdin = os.open(os.devnull, os.O_RDONLY)
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.dup2(stderr, 2)
        for fd in (stdin, stdout, stderr):
            os.close(fd)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        code = reap(os.getppid(), control, request["argv"])
    except BaseException as exc:  # reported; the process ends here either way
        with contextlib.suppress(OSError):
            os.write(2, f"tempoline: the reaper failed: {exc!r}\n".encode())
        code = 1
    os._exit(code)


def _receive(server: socket.socket) -> tuple[dict, list[int]] | None:
    """The next request and the descriptors passed with it; None once the socket closed."""
    fds = array.array("i")
    head, ancillary, _, _ = server.recvmsg(LENGTH.size, socket.CMSG_SPACE(PASSED_FDS * fds.itemsize))
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    head = _rest(server, head, LENGTH.size)
    if head is None:
        return None
    body = _rest(server, b"", LENGTH.unpack(head)[0])
    return None if body is None else (json.loads(body), list(fds))


def _rest(server: socket.socket, got: bytes, size: int) -> bytes | None:
    """`got` read on to `size` bytes; None if the socket closes first."""
    while len(got) < size:
        chunk = server.recv(size - len(got))
        if not chunk:
            return None
        got += chunk
    return got


def serve(executor_pid: int, socket_fd: int) -> int:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != executor_pid:
        return 1  # the executor died before we could ask to hear of it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server = socket.socket(fileno=socket_fd)
    released: set[int] = set()
    while (received := _receive(server)) is not None:
        request, fds = received
        if "release" in request:
            released.add(request["release"])
        else:
            pid = os.fork()
            if pid == 0:
                _start_reaper(server, request, fds)
            server.sendall(json.dumps({"pid": pid}).encode() + b"\n")
        for fd in fds:
            os.close(fd)
        for pid in list(released):  # reaped once exited; one still exiting waits for the next request
            with contextlib.suppress(ChildProcessError):
                if os.waitpid(pid, os.WNOHANG)[0] == 0:
                    continue
            released.discard(pid)
    return 0


if __name__ == "__main__":
    sys.exit(serve(int(sys.argv[1]), int(sys.argv[2])))
