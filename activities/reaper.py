"""The supervisor between the executor and one job's processes (Linux).

    python -I -S reaper.py EXECUTOR_PID CONTROL_FD -- ARGV...

The executor starts one per attempt; it runs only the standard library (no site-packages, so it
starts in a few milliseconds) and does four things:

- It asks the kernel for SIGUSR1 when the executor dies (PR_SET_PDEATHSIG), SIGKILL included,
  then checks that the executor is still its parent (it may have died before the request).
- It forks the job into a process group of its own (group id = the job's pid), so one signal
  reaches every descendant that stays in the group (a job that calls setsid leaves it).
- It turns signals into signals to that group: SIGTERM → SIGTERM (the graceful stop), SIGUSR1
  (from the executor after the grace period, or from the kernel when the executor died) → SIGKILL.
- It waits for the job's main process without reaping it (WNOWAIT): the zombie keeps its pid, so
  the group id cannot be reused by another process while the reaper may still signal it. Then it
  kills what is left of the group (background children of a finished job: they would otherwise
  outlive the attempt and hold its output pipes open), and, being a child subreaper, every
  orphan that left the group (setsid) and was handed to it; it reaps them all and reports.

Control lines written to CONTROL_FD: `started <pid>`, then `exited <code>` or `killed <signal>`.
The job's stdout and stderr are the reaper's own (the executor's pipes); the reaper lets go of
them once the job runs, so the pipes end when the last process of the group does.
"""

import contextlib
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
EXEC_FAILED = 127  # what shells answer for a command that cannot be run


def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option})")


def _children() -> list[int]:
    """This process's children, from /proc (a stat line is `pid (comm) state ppid ...`)."""
    me, found = os.getpid(), []
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
    """In the forked child: become a group of its own and run the job; never returns."""
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


def main(args: list[str]) -> int:
    executor_pid, control_fd = int(args[0]), int(args[1])
    argv = args[3:]
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
    if os.getppid() != executor_pid:
        return 1  # the executor died before we could ask to hear of it: start nothing

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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
