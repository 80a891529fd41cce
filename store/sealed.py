"""PII and secrets at rest: AES-GCM ciphertext bound to the row that owns it.

The owner's id is the associated data, so a ciphertext copied onto another row fails to decrypt
instead of leaking one company's secret into another's requests.
"""

import uuid
from typing import TypeVar

from pydantic import BaseModel

from core.crypto import Cipher

M = TypeVar("M", bound=BaseModel)


def seal_text(cipher: Cipher, owner: uuid.UUID, text: str) -> bytes:
    return cipher.encrypt(text.encode(), owner.bytes)


def open_text(cipher: Cipher, owner: uuid.UUID, blob: bytes) -> str:
    return cipher.decrypt(blob, owner.bytes).decode()


def seal_model(cipher: Cipher, owner: uuid.UUID, model: BaseModel) -> bytes:
    return seal_text(cipher, owner, model.model_dump_json())


def open_model(cipher: Cipher, owner: uuid.UUID, blob: bytes, kind: type[M]) -> M:
    return kind.model_validate_json(open_text(cipher, owner, blob))
