"""Supervised child processes: started in their own session, stopped together, never orphaned."""

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # If the supervisor itself is killed (even with SIGKILL), the kernel ends the child too.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def wait_for_port(host: str, port: int, process: subprocess.Popen[bytes], timeout: float, name: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with code {process.returncode} during start-up")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not open {host}:{port} within {timeout:.0f} s")


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGTERM


@dataclass
class Supervisor:
    log_dir: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    children: list[Child] = field(default_factory=list)

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        stop_signal: int = signal.SIGTERM,
        user: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Starts `argv` as child `name`, with the supervisor's environment or `env` instead."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else self.env,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            user=user,
        )
        log.close()
        self.children.append(Child(name, process, stop_signal))
        return process

    def exited(self) -> Child | None:
        return next((c for c in self.children if c.process.poll() is not None), None)

    def stop(self, plan: list[tuple[tuple[str, ...], float]]) -> None:
        """Stop group by group (dependents before dependencies), each within its time; kill the late."""
        for names, timeout in plan:
            members = [c for c in self.children if c.name in names and c.process.poll() is None]
            for child in members:
                child.process.send_signal(child.stop_signal)
            deadline = time.monotonic() + timeout
            for child in members:
                try:
                    child.process.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()
