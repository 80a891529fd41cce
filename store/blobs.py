"""Blob storage for what is too large for a row or a payload (interview recordings): the small
interface an S3-compatible store can implement, and the local directory used by default
(TEMPOLINE_BLOB_DIR).

A blob appears under its key only once complete: it is written under a temporary name (for S3,
a multipart upload) and renamed (completed) at the end; a write that fails leaves nothing.
"""

import asyncio
import os
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

# Keys are ours (recordings/<tenant>/<interview>/<recording>), checked anyway: a key can never
# name a path outside the store.
_KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")


class BlobWriter(Protocol):
    async def write(self, data: bytes) -> None: ...


class BlobStore(Protocol):
    def writing(self, key: str) -> AbstractAsyncContextManager[BlobWriter]:
        """Collects the blob's bytes; it appears under `key` when the block ends without error."""
        ...

    def open(self, key: str) -> BinaryIO:
        """A seekable reader of the blob (blocking: read it in a thread). FileNotFoundError if none."""
        ...

    async def size(self, key: str) -> int | None:
        """The blob's size in bytes, or None if there is none under `key`."""
        ...

    async def delete(self, key: str) -> None:
        """Deletes the blob; nothing to delete is no error."""
        ...


class _FileWriter:
    def __init__(self, file: BinaryIO) -> None:
        self.file = file

    async def write(self, data: bytes) -> None:
        await asyncio.to_thread(self.file.write, data)


class LocalBlobs:
    """Blobs as files under `root`; unfinished ones under root/.incoming, renamed when complete."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.incoming = root / ".incoming"

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"invalid blob key {key!r}")
        return self.root / key

    @asynccontextmanager
    async def writing(self, key: str) -> AsyncIterator[BlobWriter]:
        target = self.path(key)
        await asyncio.to_thread(self.incoming.mkdir, parents=True, exist_ok=True)
        temporary = self.incoming / uuid.uuid4().hex
        file = await asyncio.to_thread(temporary.open, "xb")
        try:
            yield _FileWriter(file)
            await asyncio.to_thread(_complete, file, temporary, target)
        except BaseException:
            # Synchronous: this also runs when the request is cancelled (the client went away).
            file.close()
            temporary.unlink(missing_ok=True)
            raise

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    async def size(self, key: str) -> int | None:
        try:
            return (await asyncio.to_thread(self.path(key).stat)).st_size
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)


def _complete(file: BinaryIO, temporary: Path, target: Path) -> None:
    # On disk before the rename (and the rename before the caller commits the row that names
    # the blob): a crash never leaves a row pointing at a file that was lost.
    file.flush()
    os.fsync(file.fileno())
    file.close()
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary.rename(target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
