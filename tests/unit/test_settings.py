"""Settings derived from others when unset."""

from core.settings import Settings


def test_web_ui_origins_follow_the_temporal_port_unless_set():
    assert Settings(TEMPORAL_ADDRESS="127.0.0.1:7233").web_ui_origins == [
        "http://127.0.0.1:8233",
        "http://localhost:8233",
    ]
    moved = Settings(TEMPORAL_ADDRESS="127.0.0.1:17233")
    assert moved.web_ui_port == 18233
    assert moved.web_ui_origins == ["http://127.0.0.1:18233", "http://localhost:18233"]
    explicit = Settings(TEMPORAL_ADDRESS="127.0.0.1:17233", TEMPOLINE_WEB_UI_ORIGINS=["https://ui.example"])
    assert explicit.web_ui_origins == ["https://ui.example"]
