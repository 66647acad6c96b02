"""Errors a user can cause, each saying what was wrong, where, and what to do."""

from __future__ import annotations

from dataclasses import dataclass


class TidalError(Exception):
    """Base class for errors caused by user input; the CLI prints them without a traceback."""

    exit_code = 2


@dataclass(frozen=True)
class Issue:
    """One problem found in a pipeline or a call, with its place."""

    message: str
    node: str | None = None
    port: str | None = None
    param: str | None = None
    hint: str | None = None
    code: str = "invalid"

    @property
    def where(self) -> str:
        parts = []
        if self.node is not None:
            parts.append(f"node '{self.node}'")
        if self.port is not None:
            parts.append(f"port '{self.port}'")
        if self.param is not None:
            parts.append(f"parameter '{self.param}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "node": self.node,
            "port": self.port,
            "param": self.param,
            "message": self.message,
            "hint": self.hint,
        }


class ValidationFailed(TidalError):
    """Raised with every issue found at once."""

    def __init__(self, issues: list[Issue], subject: str = "pipeline") -> None:
        self.issues = list(issues)
        count = len(self.issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{subject} has {count} problem{'s' if count != 1 else ''}:\n{lines}")


class ParameterError(TidalError):
    """A parameter value was rejected."""


class DataError(TidalError):
    """The data given to a component cannot be used (missing column, wrong type, empty table)."""


class NotFound(TidalError):
    """A run, artifact, model or component that does not exist."""


class UnsafeModelError(TidalError):
    """A model payload needs code execution (pickle) and the source was not trusted."""


class CodeNotAllowed(TidalError):
    """A pipeline holds a node whose component runs arbitrary code, and the caller did not allow it."""


class RunFailed(TidalError):
    """A run ended with failed nodes."""

    exit_code = 1
