"""Durations as people type them on the command line (`30s`, `5m`, `1h30m`, `2d`, or bare
seconds) and as the CLI prints them back, for options the API takes in whole seconds."""

import re

import typer

_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")


def parse_duration(text: str, option: str) -> int:
    """Whole seconds; a usage error naming `option` when `text` is no duration. Whether the
    value is in range is the API's to say."""
    spoken = text.strip().lower()
    if spoken.isdigit():
        return int(spoken)
    match = _DURATION.match(spoken)
    if not spoken or match is None:
        raise typer.BadParameter(
            f"{text!r} is not a duration: whole numbers with units d, h, m, s (e.g. 30s, 5m, 1h30m, 2d)"
            " or bare seconds",
            param_hint=option,
        )
    return sum(int(value) * _UNITS[unit] for unit, value in match.groupdict().items() if value)


def format_duration(seconds: int) -> str:
    """The shortest spelling `parse_duration` reads back: 90 -> 1m30s, 3600 -> 1h."""
    parts = []
    for unit, size in _UNITS.items():
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"
