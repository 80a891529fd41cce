"""Write-through SQLite file that lets the Google emulator's state survive a restart.

Everything is served from memory; each change is also written here, and a new process with the
same data dir loads it back. Without a data dir (tests, ``create_app()``) nothing is written.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (kind TEXT, key TEXT, body TEXT, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS events (calendar_id TEXT, id TEXT, seq INTEGER, body TEXT,
                                   PRIMARY KEY (calendar_id, id));
"""


class Persistence:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every change is durable on its own; bulk writes open their own transaction.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def put(self, kind: str, key: str, body: Any) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO records (kind, key, body) VALUES (?, ?, ?)", (kind, key, json.dumps(body))
        )

    def delete(self, kind: str, key: str) -> None:
        self.db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))

    def records(self, kind: str) -> Iterator[tuple[str, Any]]:
        for key, body in self.db.execute("SELECT key, body FROM records WHERE kind = ?", (kind,)):
            yield key, json.loads(body)

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
        self.db.execute("DELETE FROM records")
        self.db.execute("DELETE FROM events")
