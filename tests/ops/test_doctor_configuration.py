"""Doctor's configuration check: what is missing or conflicting, named with its fix."""

from cli.doctor import Status, configuration
from core.crypto import generate_key
from core.settings import Settings

COMPLETE = {
    "DATABASE_URL": "postgresql://u@db/tempoline",
    "TEMPOLINE_ENCRYPTION_KEY": generate_key(),
    "TEMPOLINE_ADMIN_API_KEY": "tl_admin",
}


def test_complete_settings_pass_and_say_which_providers_are_emulated():
    finding = configuration(Settings(**COMPLETE))
    assert finding.status is Status.OK
    assert finding.summary == "settings are complete (emulated: ServiceTitan, Google OAuth)"


def test_missing_database_key_and_admin_key_are_each_named():
    finding = configuration(Settings(TEMPOLINE_ENCRYPTION_KEY="not-a-key", TEMPOLINE_ADMIN_API_KEY=None))
    assert finding.status is Status.FAIL
    assert "DATABASE_URL is not set" in finding.summary
    assert "TEMPOLINE_ENCRYPTION_KEY:" in finding.summary
    assert "neither TEMPOLINE_ADMIN_API_KEY nor TEMPOLINE_API_KEY" in finding.summary


def test_a_provider_half_on_the_emulators_is_a_conflict():
    finding = configuration(Settings(**COMPLETE, SERVICETITAN_API_URL="https://api.servicetitan.io"))
    assert finding.status is Status.FAIL
    assert finding.summary == (
        "ServiceTitan: SERVICETITAN_AUTH_URL and SERVICETITAN_API_URL point one at the emulators, "
        "one elsewhere"
    )


def test_two_services_on_one_port_is_a_conflict():
    finding = configuration(Settings(**COMPLETE, TEMPOLINE_API_PORT=9464, TEMPOLINE_WORKER_METRICS_PORT=9464))
    assert finding.status is Status.FAIL
    assert finding.summary == "port 9464 is set for 2 services on one host"
