"""Temporal payload codec: every payload leaves the process AES-GCM encrypted.

The history store only ever sees ciphertext; the Web UI decodes through the API's codec endpoint.
"""

from collections.abc import Sequence

from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from core.crypto import Cipher

ENCODING = b"binary/encrypted"


class EncryptionCodec(PayloadCodec):
    def __init__(self, cipher: Cipher) -> None:
        self._cipher = cipher

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": ENCODING, "encryption-key-id": self._cipher.key_id.encode()},
                data=self._cipher.encrypt(p.SerializeToString()),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        decoded: list[Payload] = []
        for p in payloads:
            # Payloads written before encryption was enabled (or by other tools) pass through.
            if p.metadata.get("encoding") != ENCODING:
                decoded.append(p)
                continue
            inner = Payload()
            inner.ParseFromString(self._cipher.decrypt(p.data))
            decoded.append(inner)
        return decoded
