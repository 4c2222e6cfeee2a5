"""The project's own error types. Anything a user can cause ends in one of these, never a traceback."""

from __future__ import annotations

from dataclasses import dataclass, field


class ReportgenError(Exception):
    """Base class: a user-facing error with a one-screen message. CLI exit status 2.

    ``code`` (with ``params``) names a locale message (``stage_reason.<code>``), so a report in
    another language can explain a failed stage in that language."""

    exit_code = 2
    code: str | None = None
    params: dict[str, str | int | float] = {}  # noqa: RUF012 - replaced per instance, never mutated


@dataclass(frozen=True)
class SpecIssue:
    """One problem in a spec file, located as precisely as we can."""

    message: str
    path: str = ""  # dotted field path, e.g. "inputs.image.height"
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    suggestion: str | None = None

    def format(self, filename: str) -> str:
        where = filename
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        text = f"{where}: "
        if self.path:
            text += f"{self.path}: "
        text += self.message
        if self.suggestion:
            text += f" ({self.suggestion})"
        return text


@dataclass
class SpecError(ReportgenError):
    """A study spec (or model card / platform entry) failed to load or validate."""

    filename: str
    issues: list[SpecIssue] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.render())

    def render(self) -> str:
        head = f"{self.filename}: {len(self.issues)} problem{'s' if len(self.issues) != 1 else ''} in the spec"
        return "\n".join([head] + ["  " + i.format(self.filename) for i in self.issues])


class ModelBuildError(ReportgenError):
    """A model could not be built offline, or its forward failed on the spec's inputs."""


class UnknownIdError(ReportgenError):
    """An unknown model card / platform id (with did-you-mean suggestions)."""


class RenderError(ReportgenError):
    """The report could not be rendered (template, figure backend, PDF writer). Nothing new was
    written and the earlier report is kept; exit status 2 like every "nothing built" error."""
