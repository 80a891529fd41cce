"""The `tempoline` command fails clearly, naming what to fix."""

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

TEMPOLINE = str(Path(sys.executable).parent / "tempoline")


def test_dev_refuses_a_taken_port_and_names_it(tmp_path: Path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "TEMPOLINE_HOME": str(tmp_path), "TEMPOLINE_API_PORT": str(port)}
        result = subprocess.run([TEMPOLINE, "dev"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"{port} (API)" in result.stderr and "TEMPOLINE_API_PORT" in result.stderr
    assert "Traceback" not in result.stderr


def test_worker_refuses_an_unknown_context():
    result = subprocess.run(
        [sys.executable, "worker.py", "--queues", "billing"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        env={
            **os.environ,
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x",
            "TEMPOLINE_ENCRYPTION_KEY": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        },
    )
    assert result.returncode != 0
    assert "'billing' is unknown; available: interviews, platform, routing, scheduling" in result.stderr


async def test_temporal_pass_through_reaches_the_configured_server(temporal, tmp_path: Path):
    # `temporal` itself is only in .venv/bin; `tempoline temporal` finds it and points it at
    # TEMPORAL_ADDRESS, where the server knows our search attributes.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "TEMPOLINE_"))}
    env |= {"TEMPORAL_ADDRESS": temporal.client.service_client.config.target_host}
    process = await asyncio.create_subprocess_exec(
        TEMPOLINE,
        "temporal",
        "operator",
        "search-attribute",
        "list",
        env=env | {"TEMPOLINE_HOME": str(tmp_path)},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, stderr.decode()
    assert "RoutingStatus" in stdout.decode()
