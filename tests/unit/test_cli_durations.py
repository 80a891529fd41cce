"""Durations on the command line (`schedule create --every 1h30m`), read and printed back."""

import pytest
import typer

from cli.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("2d", 172800),
        ("1d2h3m4s", 93784),
        ("90", 90),
        (" 1H ", 3600),
    ],
)
def test_durations_read_as_people_type_them(text: str, seconds: int):
    assert parse_duration(text, "--every") == seconds


@pytest.mark.parametrize("text", ["", "soon", "1.5h", "-5s", "5m1h", "1h 30m", "h", "30sec"])
def test_what_is_no_duration_is_a_usage_error_naming_the_option(text: str):
    with pytest.raises(typer.BadParameter) as refused:
        parse_duration(text, "--every")
    assert refused.value.param_hint == "--every" and "is not a duration" in refused.value.message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (59, "59s"), (90, "1m30s"), (3600, "1h"), (5400, "1h30m"), (86461, "1d1m1s")],
)
def test_durations_print_in_the_shortest_spelling_that_reads_back(seconds: int, text: str):
    assert format_duration(seconds) == text
    assert parse_duration(text, "--every") == seconds
