"""The environment `tempoline temporal` gives the Temporal CLI."""

from pathlib import Path

from cli.temporal import cli_env
from core.settings import Settings


def test_the_cli_gets_our_server_and_codec_with_the_dev_stack_admin_key(tmp_path: Path):
    (tmp_path / "admin-api-key").write_text("tl_dev-key\n")
    settings = Settings(
        TEMPORAL_ADDRESS="127.0.0.1:17233",
        TEMPORAL_NAMESPACE="ns",
        TEMPOLINE_HOME=tmp_path,
        TEMPOLINE_API_PORT=18000,
        TEMPOLINE_ADMIN_API_KEY=None,
    )
    env = cli_env(settings, {"PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "TEMPORAL_ADDRESS": "127.0.0.1:17233",
        "TEMPORAL_NAMESPACE": "ns",
        "TEMPORAL_CODEC_ENDPOINT": "http://127.0.0.1:18000/codec",
        "TEMPORAL_CODEC_AUTH": "Bearer tl_dev-key",
    }


def test_a_codec_the_user_set_is_kept(tmp_path: Path):
    settings = Settings(TEMPOLINE_HOME=tmp_path, TEMPOLINE_ADMIN_API_KEY="tl_env-key")
    mine = {"TEMPORAL_CODEC_ENDPOINT": "https://codec.example", "TEMPORAL_CODEC_AUTH": "Bearer mine"}
    env = cli_env(settings, mine)
    assert env["TEMPORAL_CODEC_ENDPOINT"] == "https://codec.example"
    assert env["TEMPORAL_CODEC_AUTH"] == "Bearer mine"
