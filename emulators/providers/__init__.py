"""Registry of emulated providers. Adding one = one module + one line in ``PROVIDERS``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from emulators.providers import anthropic, google, openai, servicetitan, speech
from emulators.providers.base import Provider

# name -> factory; the name is the path prefix (``/servicetitan``) and the control prefix
# (``/_control/servicetitan``). A factory gets the server's data dir (None: state in memory only).
# gRPC providers (speech) serve their methods on the server's gRPC port instead.
PROVIDERS: dict[str, Callable[[Path | None], Provider]] = {
    "servicetitan": servicetitan.create_provider,
    "google": google.create_provider,
    "speech": speech.create_provider,
    "openai": openai.create_provider,
    "anthropic": anthropic.create_provider,
}


def build_providers(names: list[str] | None = None, data_dir: Path | None = None) -> dict[str, Provider]:
    selected = names if names is not None else list(PROVIDERS)
    unknown = [n for n in selected if n not in PROVIDERS]
    if unknown:
        raise ValueError(f"unknown providers: {unknown}; known: {sorted(PROVIDERS)}")
    return {name: PROVIDERS[name](data_dir) for name in selected}
