"""The base every platform contract derives from."""

from pydantic import BaseModel, ConfigDict


class PlatformModel(BaseModel):
    # Frozen: contracts cross workflow boundaries and must not change under a workflow's feet.
    # extra="forbid": a misspelled field is a bug in the caller, not something to drop silently.
    model_config = ConfigDict(extra="forbid", frozen=True)
