"""Registry of emulated providers. Adding one = one module + one line in ``PROVIDERS``."""

from __future__ import annotations

from collections.abc import Callable

from emulators.providers import servicetitan
from emulators.providers.base import Provider

# name -> factory; the name is the path prefix (``/servicetitan``) and the control prefix
# (``/_control/servicetitan``). Later: google, openai, anthropic (and a gRPC Speech server).
PROVIDERS: dict[str, Callable[[], Provider]] = {
    "servicetitan": servicetitan.create_provider,
}


def build_providers(names: list[str] | None = None) -> dict[str, Provider]:
    selected = names if names is not None else list(PROVIDERS)
    unknown = [n for n in selected if n not in PROVIDERS]
    if unknown:
        raise ValueError(f"unknown providers: {unknown}; known: {sorted(PROVIDERS)}")
    return {name: PROVIDERS[name]() for name in selected}
