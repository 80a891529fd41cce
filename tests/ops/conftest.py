"""Deployment files are checked with the tools that read them in production: `docker-compose`
and `promtool` from Debian packages. A machine without them gets them here (CI runs as root on a
fresh Debian), so these tests never skip for want of a tool."""

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def debian_tool(command: str, package: str) -> str:
    """The path of `command`, installing its Debian package first when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    apt = {"env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, "capture_output": True, "text": True}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    result = subprocess.run(install, **apt)  # type: ignore[call-overload]
    if result.returncode != 0:  # a fresh machine has no package lists yet
        subprocess.run(["apt-get", "update", "-q"], check=False, **apt)  # type: ignore[call-overload]
        result = subprocess.run(install, **apt)  # type: ignore[call-overload]
    found = shutil.which(command)
    if not found:
        pytest.fail(f"`{command}` is needed and `apt-get install {package}` failed:\n{result.stderr}")
    return found


@pytest.fixture(scope="session")
def docker_compose() -> str:
    return debian_tool("docker-compose", "docker-compose")


@pytest.fixture(scope="session")
def promtool() -> str:
    return debian_tool("promtool", "prometheus")


Run = Callable[..., subprocess.CompletedProcess[str]]
