"""docker-compose.yml: valid for `docker-compose`, sets only variables tempoline reads, and
registers every search attribute the code uses."""

import os
import re
import subprocess

import yaml

from core.settings import Settings
from domain.search_attributes import cli_flags
from registry import CONTEXTS
from tests.ops.conftest import ROOT

REQUIRED = {
    "TEMPOLINE_ENCRYPTION_KEY": "k",
    "TEMPOLINE_ADMIN_API_KEY": "a",
}

WORKERS = {f"worker-{context}" for context in CONTEXTS}


def _config(docker_compose: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED}
    return subprocess.run(
        [
            docker_compose,
            "--project-directory",
            str(ROOT),
            "-f",
            str(ROOT / "docker-compose.yml"),
            *args,
            "config",
        ],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def _resolved(docker_compose: str) -> dict:
    result = _config(docker_compose, REQUIRED, "--profile", "emulators", "--profile", "executors")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def test_docker_compose_accepts_the_file_and_names_what_is_missing(docker_compose: str):
    services = _resolved(docker_compose)["services"]
    assert {"temporal", "temporal-setup", "temporal-ui", "postgresql", "migrate", "api", "emulators"} <= set(
        services
    )
    # One worker service per built context (registry.CONTEXTS).
    assert {name for name in services if name.startswith("worker-")} == WORKERS
    missing = _config(docker_compose, {k: v for k, v in REQUIRED.items() if k != "TEMPOLINE_ENCRYPTION_KEY"})
    assert missing.returncode != 0
    assert "TEMPOLINE_ENCRYPTION_KEY" in missing.stderr


def test_every_variable_set_for_tempoline_is_a_setting(docker_compose: str):
    known = {field.alias for field in Settings.model_fields.values()}
    ours = {
        name: s
        for name, s in _resolved(docker_compose)["services"].items()
        if s.get("image") == "tempoline:local"
    }
    assert {"api", "migrate", "executor", "emulators"} | WORKERS <= set(ours)
    unknown = {name: sorted(set(s.get("environment", {})) - known) for name, s in ours.items()}
    assert not any(unknown.values()), unknown
    # The names the design fixes are all set, so nothing falls back to a loopback default.
    design = {"TEMPORAL_ADDRESS", "DATABASE_URL", "SERVICETITAN_API_URL", "GOOGLE_SPEECH_ENDPOINT"}
    assert design <= set(ours["api"]["environment"]) and design <= set(ours["worker-routing"]["environment"])


def test_workers_scale_and_outlive_their_graceful_shutdown(docker_compose: str):
    services = _resolved(docker_compose)["services"]
    for name in WORKERS:
        worker = services[name]
        assert "ports" not in worker  # replicas would clash on a host port
        assert worker["environment"]["TEMPOLINE_WORKER_METRICS_HOST"] == "0.0.0.0"
        grace = re.fullmatch(r"(\d+)s", worker["stop_grace_period"])
        assert grace and int(grace[1]) > 10  # worker.GRACEFUL_SHUTDOWN


def test_the_setup_registers_every_search_attribute(docker_compose: str):
    command = " ".join(_resolved(docker_compose)["services"]["temporal-setup"]["command"])
    flags = cli_flags()
    wanted = flags[1::2]  # "Name=Type" after each --search-attribute
    assert wanted and all(f" {attribute}" in command for attribute in wanted), (wanted, command)


def test_every_mounted_file_exists(docker_compose: str):
    """Prometheus's rules and Grafana's dashboards are loaded from infra/ by bind mounts."""
    services = _resolved(docker_compose)["services"]
    sources = [
        volume["source"] if isinstance(volume, dict) else volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if (volume.get("type") == "bind" if isinstance(volume, dict) else volume.startswith("/"))
    ]
    assert any("infra/grafana/dashboards" in s for s in sources)
    assert any(s.endswith("infra/prometheus") for s in sources)
    assert [s for s in sources if not os.path.exists(s)] == []
