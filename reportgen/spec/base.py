"""The base of every part of a study spec (and of the model cards that reuse spec parts): a
strict pydantic model, so an unknown key is an error rather than silently ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base for every spec part: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=False, populate_by_name=True)
