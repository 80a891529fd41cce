"""The local blob store: a blob appears under its key only when its write completes; a write
that fails leaves nothing; keys cannot leave the store's directory."""

from pathlib import Path

import pytest

from store.blobs import LocalBlobs
from tests.interviews.conftest import stored_blobs


async def test_a_blob_appears_when_complete(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    key = "recordings/t/i/r1"
    async with blobs.writing(key) as writer:
        await writer.write(b"abc")
        await writer.write(b"def")
        assert await blobs.size(key) is None  # under way: only the temporary file
        [(temporary)] = stored_blobs(tmp_path)
        assert temporary.parent.name == ".incoming"
    assert await blobs.size(key) == 6
    with blobs.open(key) as file:
        assert file.read() == b"abcdef"
    await blobs.delete(key)
    await blobs.delete(key)  # nothing to delete is no error
    assert await blobs.size(key) is None and stored_blobs(tmp_path) == []


async def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    blobs = LocalBlobs(tmp_path)
    with pytest.raises(RuntimeError):
        async with blobs.writing("recordings/x") as writer:
            await writer.write(b"partial")
            raise RuntimeError("the upload broke")
    assert stored_blobs(tmp_path) == []


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/etc/passwd", "a//b", ".incoming/x", ""])
def test_keys_stay_inside_the_store(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="invalid blob key"):
        LocalBlobs(tmp_path).path(key)
