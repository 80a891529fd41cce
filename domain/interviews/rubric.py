"""An interview's rubric: the competencies it is scored on, each with a weight and what each
level means.

Weights are fractions of the overall score. They must be positive and sum to 1 within
WEIGHT_TOLERANCE (so 0.33 + 0.33 + 0.34, or three times 0.333, are accepted) and are then
normalised to sum to exactly 1. Weights that sum to anything else are refused rather than
rescaled: 20/30/50 could be percentages or points, and guessing would silently change scores.
"""

import math
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

WEIGHT_TOLERANCE = 0.01
MAX_COMPETENCIES = 30

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RubricModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Level(RubricModel):
    """One point of a competency's scale and what an answer at that level looks like."""

    score: int = Field(ge=0, le=10)
    description: Text


class Competency(RubricModel):
    name: Name
    description: Text | None = None
    weight: float = Field(gt=0, le=1, allow_inf_nan=False)
    levels: list[Level] = Field(min_length=2, max_length=11)

    @field_validator("levels")
    @classmethod
    def _levels_distinct_and_ordered(cls, levels: list[Level]) -> list[Level]:
        scores = [level.score for level in levels]
        if len(set(scores)) != len(scores):
            raise ValueError("each level score is described once")
        return sorted(levels, key=lambda level: level.score)


class Rubric(RubricModel):
    competencies: list[Competency] = Field(min_length=1, max_length=MAX_COMPETENCIES)

    @field_validator("competencies")
    @classmethod
    def _distinct_and_weights_sum_to_one(cls, competencies: list[Competency]) -> list[Competency]:
        names = [c.name.casefold() for c in competencies]
        if len(set(names)) != len(names):
            raise ValueError("competency names must be distinct (whatever their case)")
        total = math.fsum(c.weight for c in competencies)
        if abs(total - 1) > WEIGHT_TOLERANCE:
            raise ValueError(
                f"competency weights sum to {total:g}; they are fractions of the overall score and "
                f"must sum to 1 (within {WEIGHT_TOLERANCE:g})"
            )
        return [c.model_copy(update={"weight": c.weight / total}) for c in competencies]
