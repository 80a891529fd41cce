"""`tempoline executor` refuses bad arguments and a refused registration clearly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from emulators.runner import start_in_thread
from tests.executor.platform_api import PlatformApi

TEMPOLINE = str(Path(sys.executable).parent / "tempoline")


def _executor(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "TEMPOLINE_BOOTSTRAP_TOKEN"}
    return subprocess.run(
        [TEMPOLINE, "executor", *args], env={**environment, **env}, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        ((), "Missing option '--worker-type'"),
        (("--worker-type", "shell", "--slots", "0", "--bootstrap-token", "t"), "--slots"),
        (("--worker-type", "shell", "--cpu-millis", "-5", "--bootstrap-token", "t"), "--cpu-millis"),
        (("--worker-type", " ", "--bootstrap-token", "t"), "--worker-type"),
        (("--worker-type", "shell", "--capability", "", "--bootstrap-token", "t"), "--capability"),
        (("--worker-type", "shell"), "TEMPOLINE_BOOTSTRAP_TOKEN"),
    ],
)
def test_bad_arguments_exit_2_naming_the_option(args: tuple[str, ...], says: str):
    result = _executor(*args)
    assert result.returncode == 2
    assert (
        says in " ".join(result.stderr.split()).replace("│", "").replace("  ", " ") or says in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_a_refused_token_exits_1_with_the_apis_reason():
    with start_in_thread(app=PlatformApi().app()) as server:
        result = _executor(
            "--worker-type", "shell", "--bootstrap-token", "tlb_unknown",
            TEMPOLINE_API_URL=server.url, TEMPOLINE_ENCRYPTION_KEY="A" * 43 + "=",
        )  # fmt: skip
    assert result.returncode == 1
    assert "answered 401: Unknown bootstrap token" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
