"""The base every routing contract derives from, and small validation helpers."""

from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

T = TypeVar("T")


class RoutingModel(BaseModel):
    # Frozen: contracts cross workflow boundaries and must not change under a workflow's feet.
    # extra="forbid": a misspelled field is a bug in the caller, not something to drop silently.
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def field_error(model: str, field: str, message: str, value: object) -> ValidationError:
    """A ValidationError located at `field`, for rules that span several fields.

    A plain ValueError from a model validator would carry no field location, and callers
    (the API's problem+json errors in particular) rely on every error naming its field.
    """
    return ValidationError.from_exception_data(
        model,
        [InitErrorDetails(type=PydanticCustomError("value_error", message), loc=(field,), input=value)],
    )


def sorted_unique(values: Iterable[T]) -> tuple[T, ...]:
    """Collections are stored sorted and de-duplicated so that their serialised form is
    the same in every process (set iteration order depends on hash randomisation)."""
    return tuple(sorted(set(values)))  # type: ignore[type-var]
