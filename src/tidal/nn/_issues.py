"""Problems in a network spec: each names the layer, the input port or parameter, and what to change.

:class:`LayerIssue` is a :class:`tidal.core.Issue` (so the CLI, the Studio and JSON answers
treat it like a pipeline issue) whose ``node`` is the layer id (``block1/conv2`` inside a
sub-network) and which carries both shapes of a mismatch. :class:`NetworkError` lists every
issue at once, like :class:`tidal.core.ValidationFailed` does for pipelines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tidal.core._errors import Issue, ValidationFailed


@dataclass(frozen=True)
class LayerIssue(Issue):
    """One problem: ``layer`` (the ``node`` field), ``port`` or ``param``, ``message``, ``hint``.

    ``expected`` and ``actual`` hold the two shapes (or sizes) of a mismatch when there is one.
    """

    expected: str | None = None
    actual: str | None = None

    @property
    def layer(self) -> str | None:
        return self.node

    @property
    def where(self) -> str:
        parts = []
        if self.node is not None:
            parts.append(f"layer '{self.node}'")
        if self.port is not None:
            parts.append(f"input '{self.port}'")
        if self.param is not None:
            parts.append(f"parameter '{self.param}'")
        return " ".join(parts)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        return f"{text}; {self.hint}" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = dict(super().to_dict())
        data.update(layer=self.node, expected=self.expected, actual=self.actual)
        return data


class NetworkError(ValidationFailed):
    """A network spec with problems; ``issues`` holds every one of them as :class:`LayerIssue`."""

    def __init__(self, issues: Sequence[Issue], subject: str = "network") -> None:
        super().__init__(list(issues), subject=subject)


def issue(
    message: str,
    *,
    layer: str | None = None,
    port: str | None = None,
    param: str | None = None,
    hint: str | None = None,
    code: str = "invalid",
    expected: str | None = None,
    actual: str | None = None,
) -> LayerIssue:
    return LayerIssue(message, node=layer, port=port, param=param, hint=hint, code=code, expected=expected, actual=actual)
