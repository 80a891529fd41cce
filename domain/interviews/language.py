"""BCP-47 language tags as the speech providers take them ("en-US", "pt-BR", "zh-Hant-TW")."""

import re

# language (2-3 letters), optional script (4 letters), optional region (2 letters or 3 digits),
# optional variants: the subset of BCP-47 that speech providers accept; no extensions.
_TAG = re.compile(
    r"^(?P<language>[a-z]{2,3})(-(?P<script>[a-z]{4}))?(-(?P<region>[a-z]{2}|[0-9]{3}))?"
    r"(?P<variants>(-([a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*)$",
    re.IGNORECASE,
)


def language_tag(value: str) -> str:
    """`value` in its canonical case (language lower, Script title, REGION upper); ValueError
    saying what is expected if it is no such tag."""
    match = _TAG.match(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not a BCP-47 language tag such as en-US, de-DE or pt-BR")
    parts = [match["language"].lower()]
    if match["script"]:
        parts.append(match["script"].title())
    if match["region"]:
        parts.append(match["region"].upper())
    if match["variants"]:
        parts.append(match["variants"][1:].lower())
    return "-".join(parts)
