"""Write-through SQLite file that lets a provider's state survive an emulator restart.

Everything is served from memory; each change is also written here as a JSON record
(``kind``, ``key``), and a new process with the same data dir loads it back. Without a data dir
(tests, ``create_app()``) providers write nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class RecordFile:
    SCHEMA = "CREATE TABLE IF NOT EXISTS records (kind TEXT, key TEXT, body TEXT, PRIMARY KEY (kind, key));"

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit: every change is durable on its own; bulk writes open their own transaction.
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(self.SCHEMA)

    def put(self, kind: str, key: str, body: Any) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO records (kind, key, body) VALUES (?, ?, ?)", (kind, key, json.dumps(body))
        )

    def delete(self, kind: str, key: str) -> None:
        self.db.execute("DELETE FROM records WHERE kind = ? AND key = ?", (kind, key))

    def records(self, kind: str) -> Iterator[tuple[str, Any]]:
        for key, body in self.db.execute("SELECT key, body FROM records WHERE kind = ?", (kind,)):
            yield key, json.loads(body)

    def clear(self) -> None:
        self.db.execute("DELETE FROM records")
