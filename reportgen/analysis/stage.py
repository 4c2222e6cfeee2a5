"""What a stage raises when it cannot run for a reason that is not an error."""

from __future__ import annotations


class StageSkipped(Exception):
    """Raised by a stage that cannot run for a non-error reason (disabled, not available)."""

    def __init__(self, reason: str, hint: str | None = None, state: str = "not_available",
                 code: str | None = None, **params: str | int | float) -> None:
        super().__init__(reason)
        self.reason = reason
        self.hint = hint
        self.state = state
        self.code = code  # message key under `stage_reason.` in the locale catalogs
        self.params = params
