"""The one way the API, the worker and the tests reach Temporal: same converter, same interceptors."""

import dataclasses
from pathlib import Path

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

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


def tls_config(settings: Settings) -> TLSConfig | bool:
    """TLS for a cluster or Temporal Cloud: the client certificate for mTLS, a private CA, or the
    system's roots (enough for Temporal Cloud with an API key)."""
    if not settings.temporal_uses_tls:
        return False

    def read(path: Path | None) -> bytes | None:
        return path.read_bytes() if path else None

    return TLSConfig(
        server_root_ca_cert=read(settings.temporal_tls_server_ca_cert_path),
        domain=settings.temporal_tls_server_name,
        client_cert=read(settings.temporal_tls_client_cert_path),
        client_private_key=read(settings.temporal_tls_client_key_path),
    )


async def connect(settings: Settings, *, runtime: Runtime | None = None, lazy: bool = False) -> Client:
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls_config(settings),
        api_key=settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None,
        data_converter=data_converter(cipher_from(settings)),
        interceptors=[CorrelationInterceptor()],
        runtime=runtime,
        lazy=lazy,
    )
