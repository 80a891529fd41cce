"""Names of the emulated operations (as the discovery document names the methods), each with the
requests it covers: used to count calls per operation and to script errors for one."""

from __future__ import annotations

import re

_PREFIX = r"^(/calendar/v3)?"
_EVENTS = _PREFIX + r"/calendars/[^/]+/events"

OPERATIONS: dict[str, tuple[str, str]] = {
    "oauth.auth": ("GET", r"^/oauth2/auth$"),
    "oauth.approve": ("POST", r"^/oauth2/auth$"),
    "oauth.token": ("POST", r"^/oauth2/token$"),
    "oauth.revoke": ("POST", r"^/oauth2/revoke$"),
    "calendarList.list": ("GET", _PREFIX + r"/users/me/calendarList$"),
    "calendarList.get": ("GET", _PREFIX + r"/users/me/calendarList/[^/]+$"),
    "calendars.get": ("GET", _PREFIX + r"/calendars/[^/]+$"),
    "events.list": ("GET", _EVENTS + "$"),
    "events.insert": ("POST", _EVENTS + "$"),
    "events.watch": ("POST", _EVENTS + "/watch$"),
    "events.get": ("GET", _EVENTS + "/[^/]+$"),
    "events.update": ("PUT", _EVENTS + "/[^/]+$"),
    "events.patch": ("PATCH", _EVENTS + "/[^/]+$"),
    "events.delete": ("DELETE", _EVENTS + "/[^/]+$"),
    "events.instances": ("GET", _EVENTS + "/[^/]+/instances$"),
    "freebusy.query": ("POST", _PREFIX + r"/freeBusy$"),
    "channels.stop": ("POST", _PREFIX + r"/channels/stop$"),
}
_COMPILED = [(name, method, re.compile(regex)) for name, (method, regex) in OPERATIONS.items()]


def classify(method: str, path: str) -> str:
    for name, wanted, regex in _COMPILED:
        if method == wanted and regex.search(path):
            return name
    return "other"
