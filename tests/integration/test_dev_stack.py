"""`make dev` as a newcomer runs it: up, healthy, a job run on its default executor, stopped by
Ctrl-C within 15 s, nothing left behind, and the data still there on the next start."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import psutil
import pytest

from api.routers.codec import ui_token
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _ports() -> dict[str, int]:
    # Temporal's UI takes the gRPC port + 1000, so pick a gRPC port whose neighbour is free too.
    while True:
        grpc = free_port()
        if grpc + 1000 < 65536:
            try:
                import socket

                with socket.socket() as s:
                    s.bind(("127.0.0.1", grpc + 1000))
                break
            except OSError:
                continue
    return {
        "grpc": grpc,
        "api": free_port(),
        "emu": free_port(),
        "emu_grpc": free_port(),
        "pg": free_port(),
        "metrics": free_port(),
    }


def _start(home: Path, ports: dict[str, int]) -> subprocess.Popen[bytes]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("TEMPOLINE_", "DATABASE_URL", "TEMPORAL_"))
    }
    env |= {
        "TEMPOLINE_HOME": str(home),
        "TEMPORAL_ADDRESS": f"127.0.0.1:{ports['grpc']}",
        "TEMPOLINE_API_PORT": str(ports["api"]),
        "TEMPOLINE_EMULATORS_PORT": str(ports["emu"]),
        "TEMPOLINE_EMULATORS_GRPC_PORT": str(ports["emu_grpc"]),
        "TEMPOLINE_POSTGRES_PORT": str(ports["pg"]),
        "TEMPOLINE_WORKER_METRICS_PORT": str(ports["metrics"]),
    }
    log = (home.parent / "make-dev.log").open("ab")
    return subprocess.Popen(
        ["make", "-s", "dev"], cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
    )


def _wait_ready(api: str, process: subprocess.Popen[bytes], timeout: float = 90) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "make dev exited during start-up"
        try:
            ready = httpx.get(f"{api}/health/ready", timeout=5)
            if ready.status_code == 200:
                return ready
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the stack did not become ready")


def _ctrl_c(process: subprocess.Popen[bytes]) -> float:
    started = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C: the whole foreground group
    process.wait(timeout=20)
    return time.monotonic() - started


def _leftovers(home: Path, ports: dict[str, int]) -> list[str]:
    marks = [str(home), *(str(p) for p in ports.values())]
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        try:
            # The executor's command line names neither: its environment names the stack's home.
            of_stack = proc.environ().get("TEMPOLINE_HOME") == str(home)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            of_stack = False
        if (of_stack or any(m in cmd for m in marks)) and proc.pid != os.getpid() and "pytest" not in cmd:
            found.append(cmd)
    return found


def _workers(api: str, admin: dict[str, str]) -> list[dict[str, object]]:
    return httpx.get(f"{api}/api/platform/workers", headers=admin).json()["items"]


def _job_on_the_default_executor(api: str, admin: dict[str, str]) -> str:
    """A tenant's job POSTed to the stack runs to SUCCEEDED on the executor it started; its id."""
    tenant = httpx.post(f"{api}/api/admin/tenants", json={"name": "dev user"}, headers=admin).json()
    key = httpx.post(
        f"{api}/api/admin/api-keys", json={"tenant_id": tenant["id"], "name": "dev"}, headers=admin
    ).json()["key"]
    member = {"Authorization": f"Bearer {key}"}
    created = httpx.post(
        f"{api}/api/platform/jobs", json={"name": "hello", "command": ["echo", "hi"]}, headers=member
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    deadline = time.monotonic() + 60
    while (job := httpx.get(f"{api}/api/platform/jobs/{job_id}", headers=member).json())["status"] not in (
        "SUCCEEDED",
        "FAILED",
        "TIMED_OUT",
        "CANCELLED",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.5)
    assert job["status"] == "SUCCEEDED" and job["exit_code"] == 0, job
    logs = httpx.get(f"{api}/api/platform/jobs/{job_id}/logs", headers=member).json()["items"]
    assert "".join(c["data"] for c in logs) == "hi\n"
    return job_id


@pytest.mark.slow
def test_make_dev_up_healthy_stopped_and_restarted(tmp_path: Path):
    home = tmp_path / "state"
    ports = _ports()
    api = f"http://127.0.0.1:{ports['api']}"

    process = _start(home, ports)
    try:
        ready = _wait_ready(api, process)
        assert ready.json()["components"] == {"postgresql": "ok", "temporal": "ok"}
        assert httpx.get(f"{api}/docs").status_code == 200
        admin = {"Authorization": f"Bearer {(home / 'admin-api-key').read_text().strip()}"}
        # The Web UI moved with TEMPORAL_ADDRESS; the codec endpoint lets it in from there.
        codec = f"{api}/codec/ui/{ui_token((home / 'encryption.key').read_text().strip())}/decode"
        ui = f"http://127.0.0.1:{ports['grpc'] + 1000}"
        preflight = httpx.options(
            codec,
            headers={
                "Origin": ui,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-namespace",
            },
        )
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == ui
        # Trying things: booked routings are followed every 10 s, and the banner says so.
        # The banner comes once the executor is started too, just after the API is ready.
        deadline = time.monotonic() + 30
        while "Press Ctrl-C to stop." not in (banner := (home.parent / "make-dev.log").read_text()):
            assert time.monotonic() < deadline, banner
            time.sleep(0.2)
        assert re.search(r"Follow interval\s*│\s*10 s", banner), banner
        created = httpx.post(f"{api}/api/admin/tenants", json={"name": "survives restart"}, headers=admin)
        assert created.status_code == 201
        # Right after start-up, a job runs on the stack's own executor.
        _job_on_the_default_executor(api, admin)
        (executor,) = _workers(api, admin)
        assert executor["worker_type"] == "default" and executor["slots"] == 2
    finally:
        elapsed = _ctrl_c(process)
    assert elapsed < 15, f"stopping took {elapsed:.1f} s"
    time.sleep(0.5)
    assert _leftovers(home, ports) == []

    process = _start(home, ports)
    try:
        _wait_ready(api, process)
        names = [t["name"] for t in httpx.get(f"{api}/api/admin/tenants", headers=admin).json()["items"]]
        assert "survives restart" in names
        # The first executor deregistered when the stack stopped; a new one serves.
        deadline = time.monotonic() + 30
        while not (workers := _workers(api, admin)):
            assert time.monotonic() < deadline, "no executor registered after the restart"
            time.sleep(0.5)
        assert [w["id"] for w in workers] != [executor["id"]] and len(workers) == 1
    finally:
        _ctrl_c(process)
    time.sleep(0.5)
    assert _leftovers(home, ports) == []
