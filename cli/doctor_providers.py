"""`tempoline doctor`'s checks of the providers the pipelines call with the deployment's own
credentials: Google's OAuth client (calendar sync), Google Speech-to-Text, OpenAI and Anthropic
(interview analysis, OpenAI's transcription). Each makes one cheap authenticated call through the
client the activities use, at the configured endpoint, and says what the refusal means.

(ServiceTitan's credentials are each company's, stored with its connection: the API's
provider-health view asks for a token with each, see cli/doctor.py.)
"""

import asyncio
from typing import Any

import anthropic
import httpx
import openai
from google.api_core import exceptions as google_errors
from google.auth.exceptions import DefaultCredentialsError

from cli.findings import Finding, Status
from clients.llm import anthropic_client, openai_client
from clients.speech_google import speech_client
from core.settings import Settings

PROBE_TIMEOUT_SECONDS = 10.0
# A refresh token and an operation name that exist nowhere: Google answers invalid_grant (the
# token endpoint) and NOT_FOUND (Speech) only after it has authenticated the caller, so those
# answers mean the credentials are good.
PROBE_NAME = "tempoline-doctor-probe"


def _reason(body: object) -> str:
    """The provider's own message from an error body: OpenAI's ``{"message", ...}`` (the client
    hands over the inner ``error``), Anthropic's ``{"type": "error", "error": {"message"}}``."""
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict) and inner.get("message"):
        return str(inner["message"])
    return str(body)[:200]


async def _llm_key(
    check: str, sdk: Any, client: openai.AsyncOpenAI | anthropic.AsyncAnthropic, key_var: str, url_var: str
) -> Finding:
    """One model list (the same exception classes in both official clients: ``sdk`` is the
    module)."""
    url = str(client.base_url).rstrip("/")
    try:
        page = await client.models.list()
    except sdk.AuthenticationError as exc:
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"{url} refuses {key_var} (HTTP 401): {_reason(exc.body)}"[:300],
            fix=f"set {key_var} to a valid key of the account (revoked or mistyped keys are refused); "
            "interview analyses fail over to the other provider until then",
        )
    except sdk.APIStatusError as exc:
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"{url} answered HTTP {exc.status_code}: {_reason(exc.body)}"[:300],
            fix=f"403: the key of {key_var} lacks permission (project, region); 429: the account is out "
            "of quota or credit; 5xx: the provider is failing (analyses retry, then fail over)",
        )
    except sdk.APIConnectionError as exc:  # timeouts included
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"cannot reach {url_var} ({url}): {type(exc).__name__}",
            fix=f"check {url_var} and that this host may reach it (egress rules, proxy)",
        )
    finally:
        await client.close()
    return Finding(
        check=check,
        status=Status.OK,
        summary=f"{key_var} accepted at {url} ({len(page.data)} models listed)",
    )


async def openai_key(settings: Settings) -> Finding:
    client = openai_client(settings).with_options(timeout=PROBE_TIMEOUT_SECONDS)
    return await _llm_key("openai", openai, client, "OPENAI_API_KEY", "OPENAI_BASE_URL")


async def anthropic_key(settings: Settings) -> Finding:
    client = anthropic_client(settings).with_options(timeout=PROBE_TIMEOUT_SECONDS)
    return await _llm_key("anthropic", anthropic, client, "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")


async def google_oauth_client(http: httpx.AsyncClient, settings: Settings) -> Finding:
    """Refreshes a token that does not exist with the deployment's OAuth client: Google checks the
    client first (401 invalid_client), then the grant (400 invalid_grant)."""
    check, uri = "google oauth", settings.google_oauth_token_uri
    try:
        response = await http.post(
            uri,
            data={
                "grant_type": "refresh_token",
                "refresh_token": PROBE_NAME,
                "client_id": settings.google_client_id,
                "client_secret": settings.google_client_secret.get_secret_value(),
            },
            timeout=PROBE_TIMEOUT_SECONDS,
        )
    except httpx.HTTPError as exc:
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"cannot reach GOOGLE_OAUTH_TOKEN_URI ({uri}): {type(exc).__name__}",
            fix="check GOOGLE_OAUTH_TOKEN_URI (Google's: https://oauth2.googleapis.com/token) and that "
            "the workers and the API may reach it",
        )
    try:
        body = response.json()
    except ValueError:
        body = {}
    error = body.get("error") if isinstance(body, dict) else None
    if response.status_code == 400 and error == "invalid_grant":
        return Finding(
            check=check,
            status=Status.OK,
            summary=f"the token endpoint accepts GOOGLE_CLIENT_ID {settings.google_client_id!r} "
            "and its secret",
        )
    if error == "invalid_client":
        # Left unset, both are the emulators' (the dev stack's) client: say so rather than guess.
        unset = [
            Settings.model_fields[f].alias
            for f in ("google_client_id", "google_client_secret")
            if getattr(settings, f) == Settings.model_fields[f].default
        ]
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"Google refuses the OAuth client {settings.google_client_id!r} (HTTP "
            f"{response.status_code} invalid_client: {body.get('error_description', '')})"[:300],
            details=[f"{name} is not set: the emulators' default is in use" for name in unset],
            fix="set GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET to the project's web OAuth client (Google "
            "Cloud console, Credentials). Users' refresh tokens belong to the client that issued them: "
            "with a new client every user connects again",
        )
    return Finding(
        check=check,
        status=Status.FAIL,
        summary=f"the token endpoint {uri} answered HTTP {response.status_code}: {response.text[:200]}",
        fix="check GOOGLE_OAUTH_TOKEN_URI (Google's: https://oauth2.googleapis.com/token)",
    )


def _speech(settings: Settings) -> Finding:
    """Blocking (gRPC): asks Speech's Operations service for an operation that does not exist."""
    check, endpoint = "google speech", settings.google_speech_endpoint
    try:
        client = speech_client(settings)
    except DefaultCredentialsError as exc:
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"no Google credentials for Speech-to-Text at {endpoint}: {exc}"[:300],
            fix="give the interviews workers Application Default Credentials (GOOGLE_APPLICATION_"
            "CREDENTIALS, or the workload's service account) with the Speech-to-Text API enabled",
        )
    try:
        client.get_operation(request={"name": PROBE_NAME}, retry=None, timeout=PROBE_TIMEOUT_SECONDS)
    except (google_errors.NotFound, google_errors.InvalidArgument):
        pass  # read, and so authenticated: the answer to a name that does not exist
    except (google_errors.Unauthenticated, google_errors.PermissionDenied) as exc:
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"Speech-to-Text at {endpoint} refuses the credentials: {exc.message}"[:300],
            fix="give the workers' service account the Speech-to-Text API (enabled in its project, role "
            "allowing speech recognition)",
        )
    except google_errors.GoogleAPICallError as exc:
        code = exc.grpc_status_code.name if exc.grpc_status_code else exc.code
        return Finding(
            check=check,
            status=Status.FAIL,
            summary=f"cannot use GOOGLE_SPEECH_ENDPOINT ({endpoint}): {code}: {exc.message}"[:300],
            fix="check GOOGLE_SPEECH_ENDPOINT (Google's: speech.googleapis.com:443) and "
            "GOOGLE_SPEECH_INSECURE (plaintext for an emulator only), and that the workers may reach it",
        )
    finally:
        client.transport.close()
    mode = "plaintext" if settings.google_speech_plaintext else "TLS"
    return Finding(check=check, status=Status.OK, summary=f"answers at {endpoint} ({mode})")


async def google_speech(settings: Settings) -> Finding:
    if "google" not in settings.interviews_transcription_providers:
        return Finding(
            check="google speech",
            status=Status.SKIPPED,
            summary="not in INTERVIEWS_TRANSCRIPTION_PROVIDERS: the interviews do not use it",
        )
    return await asyncio.to_thread(_speech, settings)
