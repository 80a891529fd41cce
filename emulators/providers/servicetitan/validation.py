"""Request-body checks producing ServiceTitan-style ``errors`` maps ({field: [messages]})."""

from __future__ import annotations

import re
import uuid
from typing import Any

Errors = dict[str, list[str]]

CONTACT_TYPES = {"Phone", "MobilePhone", "Email", "Fax"}
CUSTOMER_TYPES = {"Residential", "Commercial"}
ADDRESS_REQUIRED = ("street", "city", "state", "zip")


def _add(errors: Errors, key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def require_str(body: dict[str, Any], key: str, errors: Errors, prefix: str = "") -> None:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        _add(errors, prefix + key, f"The {key} field is required.")


def require_bool(body: dict[str, Any], key: str, errors: Errors) -> None:
    if not isinstance(body.get(key), bool):
        _add(errors, key, f"The {key} field is required.")


def optional_str(body: dict[str, Any], key: str, errors: Errors, prefix: str = "") -> None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        _add(errors, prefix + key, f"The {key} field must be a string.")


def optional_int(body: dict[str, Any], key: str, errors: Errors) -> None:
    value = body.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        _add(errors, key, f"The {key} field must be an integer.")


def check_address(
    value: Any, errors: Errors, key: str = "address", required: bool = True
) -> dict[str, Any] | None:
    if value is None:
        if required:
            _add(errors, key, f"The {key} field is required.")
        return None
    if not isinstance(value, dict):
        _add(errors, key, f"The {key} field must be an object.")
        return None
    for field in ADDRESS_REQUIRED:
        require_str(value, field, errors, prefix=f"{key}.")
    for field in ("unit", "country"):
        optional_str(value, field, errors, prefix=f"{key}.")
    return {
        "street": value.get("street"),
        "unit": value.get("unit"),
        "city": value.get("city"),
        "state": value.get("state"),
        "zip": value.get("zip"),
        "country": value.get("country") or "USA",
        "latitude": value.get("latitude"),
        "longitude": value.get("longitude"),
    }


def check_contacts(value: Any, errors: Errors, key: str = "contacts") -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        _add(errors, key, f"The {key} field must be an array.")
        return []
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            _add(errors, f"{key}[{i}]", "Must be an object.")
            continue
        if item.get("type") not in CONTACT_TYPES:
            _add(errors, f"{key}[{i}].type", f"The type field must be one of {sorted(CONTACT_TYPES)}.")
        require_str(item, "value", errors, prefix=f"{key}[{i}].")
        out.append({"type": item.get("type"), "value": item.get("value"), "memo": item.get("memo")})
    return out


def check_customer_type(body: dict[str, Any], key: str, errors: Errors) -> str:
    value = body.get(key)
    if value is None:
        return "Residential"
    if value not in CUSTOMER_TYPES:
        _add(errors, key, f"The {key} field must be one of {sorted(CUSTOMER_TYPES)}.")
    return value


def digits(phone: str) -> str:
    only = re.sub(r"\D", "", phone)
    return only[-10:] if len(only) > 10 else only


def check_external_data(value: Any, errors: Errors) -> tuple[str, list[dict[str, str]]] | None:
    """``{"applicationGuid", "externalData": [{"key", "value"}]}`` (Crm.V2.ExternalDataCreateRequest):
    the application guid (lower case) and its items, or None when absent."""
    if value is None:
        return None
    if not isinstance(value, dict):
        _add(errors, "externalData", "The externalData field must be an object.")
        return None
    guid = value.get("applicationGuid")
    try:
        guid = str(uuid.UUID(str(guid)))
    except ValueError:
        _add(errors, "externalData.applicationGuid", "The applicationGuid field must be a guid.")
        return None
    items = value.get("externalData")
    if not isinstance(items, list) or not all(
        isinstance(i, dict) and isinstance(i.get("key"), str) and isinstance(i.get("value"), str)
        for i in items
    ):
        _add(errors, "externalData.externalData", "Each item needs a string key and a string value.")
        return None
    return guid, [{"key": i["key"], "value": i["value"]} for i in items]
