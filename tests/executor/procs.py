"""Process facts read from /proc: what a test needs to say "every pid is gone"."""

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return raw.rsplit(b")", 1)[1].decode().split()  # state, ppid, pgrp, ...


def identity(pid: int) -> tuple[int, str] | None:
    """(pid, start time in clock ticks): a pid reused by another process is not the same one."""
    fields = _stat(pid)
    return None if fields is None else (pid, fields[19])


def alive(who: tuple[int, str]) -> bool:
    """Running or stopped (a zombie has ended; it only waits for its parent to read its status)."""
    fields = _stat(who[0])
    return fields is not None and fields[19] == who[1] and fields[0] != "Z"


def group_members(pgid: int) -> list[tuple[int, str]]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[2]) == pgid:
                found.append((int(entry.name), fields[19]))
    return found


async def until(check: Callable[[], T], seconds: float = 5.0, what: str = "") -> T:
    """Polls a cheap /proc check every 20 ms (tests observe; the product never polls)."""
    last = check()
    for _ in range(int(seconds / 0.02)):
        if last:
            return last
        await asyncio.sleep(0.02)
        last = check()
    raise AssertionError(f"not within {seconds}s: {what}; last: {last!r}")


async def members(pgid: int, at_least: int) -> list[tuple[int, str]]:
    return await until(
        lambda: m if len(m := group_members(pgid)) >= at_least else [], what=f"{at_least} in group"
    )


async def all_gone(processes: list[tuple[int, str]], seconds: float = 5.0) -> None:
    await until(lambda: not [p for p in processes if alive(p)], seconds, f"{processes} gone")
