"""Temporal Cloud or a cluster behind TLS: mTLS or an API key, from the environment."""

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from core.crypto import generate_key
from core.settings import Settings
from core.temporal import connect


def _settings(**env: object) -> Settings:
    return Settings(
        TEMPORAL_ADDRESS="ns.acct.tmprl.cloud:7233", TEMPOLINE_ENCRYPTION_KEY=generate_key(), **env
    )


async def test_plaintext_by_default():
    client = await connect(_settings(), lazy=True)
    assert not client.service_client.config.tls
    assert client.service_client.config.api_key is None


async def test_mtls_sends_the_client_certificate_and_trusts_the_given_ca(tmp_path: Path):
    for name in ("client.pem", "client.key", "ca.pem"):
        (tmp_path / name).write_bytes(f"-- {name} --".encode())
    client = await connect(
        _settings(
            TEMPORAL_NAMESPACE="ns.acct",
            TEMPORAL_TLS_CLIENT_CERT_PATH=tmp_path / "client.pem",
            TEMPORAL_TLS_CLIENT_KEY_PATH=tmp_path / "client.key",
            TEMPORAL_TLS_SERVER_CA_CERT_PATH=tmp_path / "ca.pem",
            TEMPORAL_TLS_SERVER_NAME="ns.acct.tmprl.cloud",
        ),
        lazy=True,
    )
    assert client.namespace == "ns.acct"
    assert client.service_client.config.tls == TLSConfig(
        server_root_ca_cert=b"-- ca.pem --",
        domain="ns.acct.tmprl.cloud",
        client_cert=b"-- client.pem --",
        client_private_key=b"-- client.key --",
    )


async def test_an_api_key_implies_tls_with_the_system_roots():
    client = await connect(_settings(TEMPORAL_API_KEY="secret-key"), lazy=True)
    assert client.service_client.config.api_key == "secret-key"
    assert client.service_client.config.tls == TLSConfig()


def test_a_client_certificate_without_its_key_is_refused(tmp_path: Path):
    with pytest.raises(ValidationError, match="go together"):
        _settings(TEMPORAL_TLS_CLIENT_CERT_PATH=tmp_path / "client.pem")
