"""The one way the API, the worker and the tests reach Temporal: same converter, same interceptors."""

import dataclasses

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from core.codec import EncryptionCodec
from core.correlation import CorrelationInterceptor
from core.crypto import Cipher
from core.settings import Settings


def data_converter(cipher: Cipher) -> DataConverter:
    # Failure messages and stack traces are payloads too: a provider's error text can carry a
    # customer's data, so they reach the history encrypted like everything else.
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(cipher),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def cipher_from(settings: Settings) -> Cipher:
    if not settings.encryption_key:
        raise RuntimeError(
            "TEMPOLINE_ENCRYPTION_KEY is not set: generate one with `tempoline keygen` "
            "(the dev stack does this for you under .tempoline/)"
        )
    return Cipher(settings.encryption_key)


async def connect(settings: Settings, *, runtime: Runtime | None = None, lazy: bool = False) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(cipher_from(settings)),
        interceptors=[CorrelationInterceptor()],
        runtime=runtime,
        lazy=lazy,
    )
