"""Shared state of one emulator server: the providers, the fault list and the call log."""

from __future__ import annotations

from dataclasses import dataclass, field

from emulators.faults import FaultStore
from emulators.latency import Latencies
from emulators.providers.base import Provider
from emulators.recorder import CallRecorder


@dataclass
class Hub:
    providers: dict[str, Provider]
    faults: FaultStore = field(default_factory=FaultStore)
    calls: CallRecorder = field(default_factory=CallRecorder)
    latency: Latencies = field(default_factory=Latencies)

    def reset(self, provider: str | None = None) -> list[str]:
        """Clear faults, latencies, recorded calls and provider state (of one provider, or all)."""
        names = [provider] if provider else list(self.providers)
        self.faults.clear(provider)
        self.latency.clear(provider)
        self.calls.clear(provider)
        for name in names:
            self.providers[name].reset()
        return names
