"""Readiness answers for what the API process needs (PostgreSQL, Temporal), never for a third party;
and the codec endpoint lets the dev stack's Web UI in, on whatever port it runs."""

from api.routers.codec import ui_token
from core.settings import Settings
from tests.conftest import api_client, free_port

PROVIDER_URLS = (
    "servicetitan_auth_url",
    "servicetitan_api_url",
    "google_calendar_api_endpoint",
    "google_oauth_token_uri",
    "openai_base_url",
    "anthropic_base_url",
)


async def test_readiness_stays_ready_while_every_provider_is_down(settings: Settings, temporal, clean_db):
    nowhere = f"http://127.0.0.1:{free_port()}"  # nothing listens: every provider is down
    down = settings.model_copy(
        update={name: nowhere for name in PROVIDER_URLS} | {"google_speech_endpoint": nowhere[7:]}
    )
    async for api in api_client(down):
        ready = await api.get("/health/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["components"] == {"postgresql": "ok", "temporal": "ok"}


async def test_readiness_names_temporal_when_it_is_unreachable(settings: Settings, clean_db):
    # The API connects to Temporal lazily, so it starts and reports instead of failing.
    gone = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async for api in api_client(gone):
        down = await api.get("/health/ready")
        assert down.status_code == 503
        body = down.json()
        assert "temporal" in body["detail"] and body["components"]["temporal"].startswith("down")
        assert body["components"]["postgresql"] == "ok"


async def test_codec_endpoint_answers_the_preflight_of_a_web_ui_on_another_port(settings: Settings, clean_db):
    # `tempoline dev` with TEMPORAL_ADDRESS=127.0.0.1:17233 serves the Web UI on 18233.
    fields = settings.model_dump(by_alias=True, exclude={"web_ui_origins"})
    moved = Settings(**fields | {"TEMPORAL_ADDRESS": "127.0.0.1:17233"})
    async for api in api_client(moved):
        for origin in ("http://127.0.0.1:18233", "http://localhost:18233"):
            preflight = await api.options(
                f"/codec/ui/{ui_token(settings.encryption_key)}/decode",
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type,x-namespace",
                },
            )
            assert preflight.status_code == 200, preflight.text
            assert preflight.headers["access-control-allow-origin"] == origin
