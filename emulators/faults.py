"""Scripted faults: matched in order against each provider request before the provider sees it.

A fault either answers *instead of* the provider (the request is never applied), or lets the
provider apply the request and then loses or delays the answer (``when="after"``), or answers at
once and applies the request later (``when="late"``): the cases where a client cannot know
whether its write happened.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field
from typing import Any

WHEN = ("instead", "after", "late")


class FaultSpecError(ValueError):
    """The control request describing a fault is invalid (answered with 400)."""


@dataclass
class Fault:
    id: str
    provider: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    count: int | None = None  # remaining applications; None = unlimited
    probability: float | None = None
    seed: int | None = None
    body: Any = None
    malformed: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    # instead: answered by the fault, the provider never sees the request; after: the provider
    # applies it, then the answer is replaced (status), cut (drop) or sent after `delay`;
    # late: answered now (status or drop), applied by the provider `apply_after` seconds later.
    when: str = "instead"
    drop: bool = False
    apply_after: float = 0.0
    applied: int = 0
    _regex: re.Pattern[str] | None = field(default=None, repr=False)
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def exhausted(self) -> bool:
        return self.count is not None and self.count <= 0

    def matches(self, provider: str, method: str, path: str) -> bool:
        if self.provider is not None and self.provider != provider:
            return False
        if self.method is not None and self.method != method:
            return False
        return self._regex is None or self._regex.search(path) is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "provider": self.provider,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "retry_after": self.retry_after,
            "delay": self.delay,
            "count": self.count,
            "probability": self.probability,
            "seed": self.seed,
            "body": self.body,
            "malformed": self.malformed,
            "headers": self.headers,
            "when": self.when,
            "drop": self.drop,
            "apply_after": self.apply_after,
            "applied": self.applied,
        }


def _number(spec: dict[str, Any], key: str, *, minimum: float = 0.0) -> float | None:
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise FaultSpecError(f"{key} must be a number >= {minimum}")
    return float(value)


def parse_fault(fault_id: str, spec: Any, known_providers: set[str]) -> Fault:
    if not isinstance(spec, dict):
        raise FaultSpecError("body must be a JSON object")
    provider = spec.get("provider")
    if provider is not None and provider not in known_providers:
        raise FaultSpecError(f"unknown provider {provider!r}; known: {sorted(known_providers)}")
    method = spec.get("method")
    if method is not None:
        if not isinstance(method, str):
            raise FaultSpecError("method must be a string or null")
        method = method.upper()
    path = spec.get("path")
    regex = None
    if path is not None:
        try:
            regex = re.compile(path)
        except (re.error, TypeError) as exc:
            raise FaultSpecError(f"path is not a valid regex: {exc}") from exc
    status = spec.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
    ):
        raise FaultSpecError("status must be an HTTP status code or null")
    count = spec.get("count")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise FaultSpecError("count must be a positive integer or null")
    probability = _number(spec, "probability")
    if probability is not None and probability > 1:
        raise FaultSpecError("probability must be between 0 and 1")
    seed = spec.get("seed")
    headers = spec.get("headers") or {}
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise FaultSpecError("headers must be an object of strings")
    malformed = bool(spec.get("malformed", False))
    delay = _number(spec, "delay") or 0.0
    drop = bool(spec.get("drop", False))
    when = spec.get("when") or "instead"
    if when not in WHEN:
        raise FaultSpecError(f"when must be one of {list(WHEN)}")
    apply_after = _number(spec, "apply_after") or 0.0
    if apply_after and when != "late":
        raise FaultSpecError('apply_after needs when="late"')
    if drop and (status is not None or malformed):
        raise FaultSpecError("drop answers nothing: it takes no status and no malformed body")
    if when == "late" and status is None and not drop:
        raise FaultSpecError('when="late" needs a status or drop=true (the answer sent at once)')
    if status is None and not malformed and not delay and not drop:
        raise FaultSpecError("a fault needs a status, malformed=true, drop=true or a delay")
    return Fault(
        id=fault_id,
        provider=provider,
        method=method,
        path=path,
        status=status,
        retry_after=_number(spec, "retry_after"),
        delay=delay,
        count=count,
        probability=probability,
        seed=seed,
        body=spec.get("body"),
        malformed=malformed,
        headers=dict(headers),
        when=when,
        drop=drop,
        apply_after=apply_after,
        _regex=regex,
        _rng=random.Random(seed) if seed is not None else random.Random(),
    )


class FaultStore:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: Any, known_providers: set[str]) -> Fault:
        fault = parse_fault(f"f{next(self._ids)}", spec, known_providers)
        self._faults.append(fault)
        return fault

    def list(self) -> list[Fault]:
        return list(self._faults)

    def delete(self, fault_id: str) -> bool:
        before = len(self._faults)
        self._faults = [f for f in self._faults if f.id != fault_id]
        return len(self._faults) != before

    def clear(self, provider: str | None = None) -> None:
        if provider is None:
            self._faults.clear()
        else:
            self._faults = [f for f in self._faults if f.provider not in (None, provider)]

    def pick(self, provider: str, method: str, path: str) -> Fault | None:
        """The first fault that matches and fires for this request; consumes one of its count."""
        if not self._faults:
            return None
        for fault in self._faults:
            if fault.exhausted or not fault.matches(provider, method, path):
                continue
            if fault.probability is not None and fault._rng.random() >= fault.probability:
                continue
            if fault.count is not None:
                fault.count -= 1
            fault.applied += 1
            return fault
        return None
