"""AES-GCM with key rotation: the first key encrypts, every listed key can decrypt.

One mechanism serves Temporal payloads (core.codec) and secrets at rest (store), so rotating
`TEMPOLINE_ENCRYPTION_KEY` (new key first, old ones after, comma-separated) covers both.
"""

import base64
import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_ID_BYTES = 4


class DecryptionError(ValueError):
    pass


def generate_key() -> str:
    return base64.urlsafe_b64encode(AESGCM.generate_key(bit_length=256)).decode()


def _parse_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except ValueError as exc:
        raise ValueError("TEMPOLINE_ENCRYPTION_KEY must be url-safe base64 of 32 bytes") from exc
    if len(raw) != 32:
        raise ValueError("TEMPOLINE_ENCRYPTION_KEY must decode to 32 bytes (AES-256)")
    return raw


class Cipher:
    """Ciphertext layout: key id (4 bytes) | nonce (12 bytes) | AES-GCM ciphertext+tag."""

    def __init__(self, keys: str) -> None:
        parsed = [_parse_key(k) for k in keys.split(",") if k.strip()]
        if not parsed:
            raise ValueError("TEMPOLINE_ENCRYPTION_KEY is empty")
        self._by_id = {hashlib.sha256(k).digest()[:KEY_ID_BYTES]: AESGCM(k) for k in parsed}
        self._current_id = hashlib.sha256(parsed[0]).digest()[:KEY_ID_BYTES]

    @property
    def key_id(self) -> str:
        return self._current_id.hex()

    def encrypt(self, plaintext: bytes, associated_data: bytes | None = None) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._by_id[self._current_id].encrypt(nonce, plaintext, associated_data)
        return self._current_id + nonce + sealed

    def decrypt(self, blob: bytes, associated_data: bytes | None = None) -> bytes:
        key_id, nonce = blob[:KEY_ID_BYTES], blob[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES]
        aead = self._by_id.get(key_id)
        if aead is None:
            raise DecryptionError(f"no configured key has id {key_id.hex()}")
        try:
            return aead.decrypt(nonce, blob[KEY_ID_BYTES + NONCE_BYTES :], associated_data)
        except Exception as exc:
            raise DecryptionError("ciphertext failed authentication") from exc
