"""`python worker.py` as its own process, configured as the test stack is: for what only a real
process shows (SIGKILL mid-activity, graceful shutdown)."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pydantic import SecretStr

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
StartWorker = Callable[..., subprocess.Popen[bytes]]


def settings_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment that gives a process these settings."""
    env: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        value = getattr(settings, name)
        if value is None or field.alias is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[field.alias] = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return {**os.environ, **env, "TEMPOLINE_LOG_LEVEL": "WARNING", **overrides}


@contextmanager
def worker_processes(settings: Settings, logs: Path, queues: str) -> Iterator[StartWorker]:
    """Starts workers on `queues` when called; SIGTERMs those still alive at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(metrics_port: int = 0) -> subprocess.Popen[bytes]:
        log = (logs / f"worker-{len(started)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "worker.py", "--queues", queues],
            cwd=ROOT,
            env=settings_env(settings, TEMPOLINE_WORKER_METRICS_PORT=str(metrics_port)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in started:
            process.wait(timeout=20)
