"""Fixed latency per provider: every request to that provider, HTTP or gRPC, waits this long
before the scripted faults and the provider see it, as a remote API's network and processing
time would. Benchmarks set it to hold the provider's share of a pipeline's time constant.

Not a fault: faults are matched first-come and one fires per request, so a delay-only fault
would shadow every fault scripted after it; a latency adds to whatever fault fires.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, Field

# A latency longer than any client's timeout only measures the timeout: a delay fault does that.
MAX_SECONDS = 60.0


class LatencyIn(BaseModel):
    """`PUT /_control/latency`: `provider` null sets it for every provider."""

    provider: str | None = None
    seconds: float = Field(ge=0, le=MAX_SECONDS)


class Latencies:
    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    def set(self, providers: list[str], seconds: float) -> None:
        for name in providers:
            if seconds:
                self._seconds[name] = seconds
            else:
                self._seconds.pop(name, None)

    def clear(self, provider: str | None = None) -> None:
        if provider is None:
            self._seconds.clear()
        else:
            self._seconds.pop(provider, None)

    def to_json(self) -> dict[str, float]:
        return dict(self._seconds)

    async def wait(self, provider: str) -> None:
        seconds = self._seconds.get(provider)
        if seconds:
            await asyncio.sleep(seconds)
