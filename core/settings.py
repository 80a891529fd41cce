"""Configuration by environment (and `.env`), one place for every name the deployment sets.

Defaults are the embedded dev stack: Temporal dev server on 7233, the emulators on 8400/8401.
Anything pointed elsewhere (a real provider, a Temporal cluster, a managed PostgreSQL) just works.
"""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

EMULATOR_URL = "http://127.0.0.1:8400"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    temporal_address: str = Field("127.0.0.1:7233", alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field("default", alias="TEMPORAL_NAMESPACE")
    # A Temporal cluster behind TLS, or Temporal Cloud: mTLS (client certificate and key) or an
    # API key (which implies TLS). Names as the Temporal CLI and SDKs' environment configuration
    # spell them, so one environment serves both tempoline and `temporal`.
    temporal_tls: bool = Field(False, alias="TEMPORAL_TLS")
    temporal_tls_client_cert_path: Path | None = Field(None, alias="TEMPORAL_TLS_CLIENT_CERT_PATH")
    temporal_tls_client_key_path: Path | None = Field(None, alias="TEMPORAL_TLS_CLIENT_KEY_PATH")
    temporal_tls_server_ca_cert_path: Path | None = Field(None, alias="TEMPORAL_TLS_SERVER_CA_CERT_PATH")
    temporal_tls_server_name: str | None = Field(None, alias="TEMPORAL_TLS_SERVER_NAME")
    temporal_api_key: SecretStr | None = Field(None, alias="TEMPORAL_API_KEY")
    database_url: str | None = Field(None, alias="DATABASE_URL")
    # Connections each API process keeps (as many again at a peak, each opened and closed: a
    # PostgreSQL backend started per use). A create holds one across its Temporal start. With 32
    # clients creating routing jobs: a pool of 10 kept them waiting (POST p99 310 ms), 20 opened
    # overflow connections on every burst (PostgreSQL 0.4 CPU-s per 500 creates), 32 neither (0.1).
    api_database_pool_size: int = Field(32, ge=1, le=500, alias="API_DATABASE_POOL_SIZE")
    admin_api_key: str | None = Field(None, alias="TEMPOLINE_ADMIN_API_KEY")
    encryption_key: str | None = Field(None, alias="TEMPOLINE_ENCRYPTION_KEY")

    google_calendar_api_endpoint: str = Field(f"{EMULATOR_URL}/google", alias="GOOGLE_CALENDAR_API_ENDPOINT")
    google_oauth_token_uri: str = Field(f"{EMULATOR_URL}/google/oauth2/token", alias="GOOGLE_OAUTH_TOKEN_URI")
    google_oauth_auth_uri: str = Field(f"{EMULATOR_URL}/google/oauth2/auth", alias="GOOGLE_OAUTH_AUTH_URI")
    google_client_id: str = Field("emulator-client-id", alias="GOOGLE_CLIENT_ID")
    google_client_secret: SecretStr = Field(SecretStr("emulator-client-secret"), alias="GOOGLE_CLIENT_SECRET")
    # Where Google sends the user back after consent (registered with the OAuth client); unset:
    # this API's own callback under TEMPOLINE_API_URL.
    google_oauth_redirect_uri: str | None = Field(None, alias="GOOGLE_OAUTH_REDIRECT_URI")
    # Where Google POSTs calendar change notifications: this API's
    # /api/scheduling/google/notifications as the internet reaches it (Google requires https).
    # Unset: no push channels, and the periodic sync alone keeps calendars fresh.
    google_calendar_webhook_url: str | None = Field(None, alias="GOOGLE_CALENDAR_WEBHOOK_URL")
    # How often each synced calendar syncs without being told to (a Temporal Schedule).
    scheduling_periodic_sync_seconds: float = Field(900.0, ge=10, alias="SCHEDULING_PERIODIC_SYNC_SECONDS")
    google_speech_endpoint: str = Field("127.0.0.1:8401", alias="GOOGLE_SPEECH_ENDPOINT")
    # Plaintext gRPC (an emulator) or TLS with Application Default Credentials (Google). Unset:
    # plaintext exactly when the endpoint's host is loopback (127.0.0.1, ::1, localhost); set it
    # true for an emulator reached by another name (a compose service), false to force TLS.
    google_speech_insecure: bool | None = Field(None, alias="GOOGLE_SPEECH_INSECURE")
    openai_base_url: str = Field(f"{EMULATOR_URL}/openai/v1", alias="OPENAI_BASE_URL")
    openai_api_key: str = Field("emulator-openai-key", alias="OPENAI_API_KEY")
    # The transcription providers an interview tries, in order (the next runs when one fails for
    # good): `local` (offline, the default: no credentials), `google`, `openai`.
    interviews_transcription_providers: list[Literal["local", "google", "openai"]] = Field(
        default_factory=lambda: ["local"], min_length=1, alias="INTERVIEWS_TRANSCRIPTION_PROVIDERS"
    )
    # One transcription upload: the API refuses requests over 26 214 400 bytes (25 MB, multipart
    # included); a recording whose FLAC is larger is sent as chunks of at most this many bytes.
    openai_transcription_max_bytes: int = Field(25_000_000, gt=0, alias="OPENAI_TRANSCRIPTION_MAX_BYTES")
    anthropic_base_url: str = Field(f"{EMULATOR_URL}/anthropic", alias="ANTHROPIC_BASE_URL")
    anthropic_api_key: str = Field("emulator-anthropic-key", alias="ANTHROPIC_API_KEY")
    # A transcript whose lines are longer than this is analyzed in parts of at most this many
    # characters (about a quarter as many tokens: 200 000 leave room in a 128k-token context for
    # the rubric and the answer), and the parts' scorecards combined.
    interviews_analysis_max_transcript_chars: int = Field(
        200_000, ge=1000, alias="INTERVIEWS_ANALYSIS_MAX_TRANSCRIPT_CHARS"
    )
    # The models an interview's analysis asks, first OpenAI, then Anthropic when it fails.
    openai_analysis_model: str = Field("gpt-4o-2024-08-06", alias="OPENAI_ANALYSIS_MODEL")
    anthropic_analysis_model: str = Field("claude-sonnet-5-5", alias="ANTHROPIC_ANALYSIS_MODEL")
    servicetitan_auth_url: str = Field(f"{EMULATOR_URL}/servicetitan/auth", alias="SERVICETITAN_AUTH_URL")
    servicetitan_api_url: str = Field(f"{EMULATOR_URL}/servicetitan/api", alias="SERVICETITAN_API_URL")
    servicetitan_app_key: str = Field("emulator-app-key", alias="SERVICETITAN_APP_KEY")

    home: Path = Field(Path(".tempoline"), alias="TEMPOLINE_HOME")
    api_host: str = Field("127.0.0.1", alias="TEMPOLINE_API_HOST")
    api_port: int = Field(8000, alias="TEMPOLINE_API_PORT")
    api_max_body_bytes: int = Field(1_048_576, alias="TEMPOLINE_API_MAX_BODY_BYTES")
    # Unset: the dev stack's Web UI (see web_ui_port), so the codec endpoint answers its CORS
    # preflight on whatever port TEMPORAL_ADDRESS puts it.
    web_ui_origins: list[str] = Field(default_factory=list, alias="TEMPOLINE_WEB_UI_ORIGINS")
    emulators_port: int = Field(8400, alias="TEMPOLINE_EMULATORS_PORT")
    emulators_grpc_port: int = Field(8401, alias="TEMPOLINE_EMULATORS_GRPC_PORT")
    postgres_port: int = Field(55432, alias="TEMPOLINE_POSTGRES_PORT")
    worker_metrics_port: int = Field(9464, alias="TEMPOLINE_WORKER_METRICS_PORT")
    # Loopback on a developer's machine; 0.0.0.0 in a container, where Prometheus scrapes the pod.
    worker_metrics_host: str = Field("127.0.0.1", alias="TEMPOLINE_WORKER_METRICS_HOST")
    log_level: str = Field("INFO", alias="TEMPOLINE_LOG_LEVEL")

    # Routing: retries of provider calls (exponential backoff), how often a booked routing asks
    # its provider for news, and the default request rate per ServiceTitan tenant (the provider
    # publishes 60/s; staying well under leaves room for the company's other integrations).
    routing_retry_initial_seconds: float = Field(1.0, gt=0, alias="ROUTING_RETRY_INITIAL_SECONDS")
    routing_retry_maximum_seconds: float = Field(600.0, gt=0, alias="ROUTING_RETRY_MAXIMUM_SECONDS")
    routing_max_attempts: int = Field(12, ge=1, alias="ROUTING_MAX_ATTEMPTS")
    routing_follow_interval_seconds: float = Field(900.0, gt=0, alias="ROUTING_FOLLOW_INTERVAL_SECONDS")
    routing_rate_limit_per_second: float = Field(10.0, gt=0, alias="ROUTING_RATE_LIMIT_PER_SECOND")
    # ServiceTitan keeps working on a request this long after receiving it ("Our APIs support a
    # timeout of 100 secs"): a create whose answer was lost may land until then, so none under
    # the same key is sent again before.
    servicetitan_server_timeout_seconds: float = Field(
        100.0, gt=0, alias="SERVICETITAN_SERVER_TIMEOUT_SECONDS"
    )

    # Platform: where an executor reaches the API, the one-time token it registers with, how long
    # a running job may go without a heartbeat before Temporal fails its attempt, and how long a
    # worker may go without a heartbeat to the API before it is offline.
    api_url: str = Field("http://127.0.0.1:8000", alias="TEMPOLINE_API_URL")
    # The key the `tempoline job|worker|token` commands send (an executor has its own, issued at
    # registration).
    api_key: SecretStr | None = Field(None, alias="TEMPOLINE_API_KEY")
    bootstrap_token: SecretStr | None = Field(None, alias="TEMPOLINE_BOOTSTRAP_TOKEN")
    platform_executor_heartbeat_timeout_seconds: float = Field(
        15.0, gt=0, alias="PLATFORM_EXECUTOR_HEARTBEAT_TIMEOUT_SECONDS"
    )
    platform_worker_offline_after_seconds: float = Field(
        30.0, gt=0, alias="PLATFORM_WORKER_OFFLINE_AFTER_SECONDS"
    )

    # Interviews, offline transcription (clients/local_transcription.py): the CPU threads one call
    # may use (0: CTranslate2's default, every core). Calls are CPU-bound, so a worker runs as many
    # at once as it has cores for at this setting, on a task queue of their own.
    local_transcription_threads: int = Field(0, ge=0, alias="LOCAL_TRANSCRIPTION_THREADS")
    # Interviews: where blobs (recordings) are kept when no object store is configured; unset:
    # blobs/ under TEMPOLINE_HOME. An upload's own body limit (every other route keeps
    # TEMPOLINE_API_MAX_BODY_BYTES) and the longest recording accepted.
    blob_dir: Path | None = Field(None, alias="TEMPOLINE_BLOB_DIR")
    interviews_max_upload_bytes: int = Field(2 * 1024**3, gt=0, alias="INTERVIEWS_MAX_UPLOAD_BYTES")
    interviews_max_audio_seconds: float = Field(4 * 3600.0, gt=0, alias="INTERVIEWS_MAX_AUDIO_SECONDS")
    # A recording's audio is deleted this many days after its interview was analyzed (its
    # transcript and scorecard stay); a daily Temporal Schedule does it. Unset: audio is kept.
    interviews_audio_retention_days: int | None = Field(None, gt=0, alias="INTERVIEWS_AUDIO_RETENTION_DAYS")
    # Interviews' webhooks: how long one request to a receiver may take (Standard Webhooks
    # recommends 15 to 30 s), and how a delivery is retried: exponential backoff from the initial
    # interval, doubling up to the maximum, a receiver's Retry-After honoured up to the maximum.
    # The defaults keep trying for about two days (20 attempts) before the delivery is `failed`.
    interviews_webhook_timeout_seconds: float = Field(
        15.0, gt=0, le=60, alias="INTERVIEWS_WEBHOOK_TIMEOUT_SECONDS"
    )
    interviews_webhook_retry_initial_seconds: float = Field(
        5.0, gt=0, alias="INTERVIEWS_WEBHOOK_RETRY_INITIAL_SECONDS"
    )
    interviews_webhook_retry_maximum_seconds: float = Field(
        6 * 3600.0, gt=0, alias="INTERVIEWS_WEBHOOK_RETRY_MAXIMUM_SECONDS"
    )
    interviews_webhook_max_attempts: int = Field(20, ge=1, alias="INTERVIEWS_WEBHOOK_MAX_ATTEMPTS")

    @property
    def blob_path(self) -> Path:
        return self.blob_dir or self.home / "blobs"

    @property
    def google_speech_plaintext(self) -> bool:
        if self.google_speech_insecure is not None:
            return self.google_speech_insecure
        host = self.google_speech_endpoint.rpartition(":")[0].strip("[]") or self.google_speech_endpoint
        return host in ("localhost", "::1") or host.startswith("127.")

    @property
    def google_redirect_uri(self) -> str:
        return self.google_oauth_redirect_uri or f"{self.api_url}/api/scheduling/google/callback"

    @property
    def web_ui_port(self) -> int:
        """Where the dev stack's Web UI listens: the Temporal frontend's port + 1000, as
        `temporal server start-dev` places it by default."""
        _, _, port = self.temporal_address.rpartition(":")
        return (int(port) if port.isdigit() else 7233) + 1000

    @property
    def temporal_uses_tls(self) -> bool:
        return bool(
            self.temporal_tls
            or self.temporal_tls_client_cert_path
            or self.temporal_tls_server_ca_cert_path
            or self.temporal_api_key
        )

    @model_validator(mode="after")
    def _client_certificate_comes_with_its_key(self) -> "Settings":
        if bool(self.temporal_tls_client_cert_path) != bool(self.temporal_tls_client_key_path):
            raise ValueError(
                "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH go together (mTLS needs both)"
            )
        return self

    @model_validator(mode="after")
    def _default_web_ui_origins(self) -> "Settings":
        if "web_ui_origins" not in self.model_fields_set:
            self.web_ui_origins = [
                f"http://127.0.0.1:{self.web_ui_port}",
                f"http://localhost:{self.web_ui_port}",
            ]
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
