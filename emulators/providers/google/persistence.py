"""The Google emulator's state file: the shared record file plus a table of calendar events
(written in bulk, loaded back in change order)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from emulators.persistence import RecordFile


class Persistence(RecordFile):
    SCHEMA = (
        RecordFile.SCHEMA
        + """
CREATE TABLE IF NOT EXISTS events (calendar_id TEXT, id TEXT, seq INTEGER, body TEXT,
                                   PRIMARY KEY (calendar_id, id));
"""
    )

    def put_events(self, calendar_id: str, events: Iterable[dict[str, Any]]) -> None:
        rows = [(calendar_id, e["id"], e["_seq"], json.dumps(e)) for e in events]
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                "INSERT OR REPLACE INTO events (calendar_id, id, seq, body) VALUES (?, ?, ?, ?)", rows
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for calendar_id, body in self.db.execute("SELECT calendar_id, body FROM events ORDER BY seq"):
            yield calendar_id, json.loads(body)

    def clear(self) -> None:
        super().clear()
        self.db.execute("DELETE FROM events")
