"""Free/busy: the busy intervals of a person's occurrences in a window, merged (touching or
overlapping intervals become one), clipped to the window. Cancelled and transparent ("show me
as available") occurrences do not make anyone busy."""

from collections.abc import Iterable
from datetime import datetime

from domain.scheduling.recurrence import Occurrence


def busy(
    occurring: Iterable[Occurrence], window: tuple[datetime, datetime]
) -> list[tuple[datetime, datetime]]:
    start, end = window
    spans = sorted((max(o.start, start), min(o.end, end)) for o in occurring if not o.transparent)
    merged: list[tuple[datetime, datetime]] = []
    for begins, ends in spans:
        if begins >= ends:
            continue
        if merged and begins <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], ends))
        else:
            merged.append((begins, ends))
    return merged
