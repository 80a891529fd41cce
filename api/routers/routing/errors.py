"""422s for rules checked in code, shaped exactly like pydantic's (api.problems renders both)."""

from fastapi.exceptions import RequestValidationError


def invalid(field: str, message: str) -> RequestValidationError:
    """A validation error on body field `field` ("fee_terms.amount" for a nested one).

    Raised, it goes through the same handler as pydantic's errors, so the client gets the same
    problem+json: title "Invalid request", detail naming the field, `errors: [{field, message}]`.
    """
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", *field.split(".")), "msg": message, "input": None}]
    )
