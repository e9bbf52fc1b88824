"""``Param``: a declared DAG param, as Airflow's ``Param(5, type="integer", minimum=1)``."""

from __future__ import annotations

from typing import Any

_NOT_SET: Any = object()


class Param:
    """A param's default and what a run's value must be.

    ``type`` is one of string, integer, number, boolean, array, object, null, or a list of
    them; without ``default`` the param is required (only in a DAG without schedule). It
    renders as the resource's declaration: ``{default, type, enum, minimum, maximum,
    minLength, maxLength, description}``.
    """

    def __init__(
        self,
        default: Any = _NOT_SET,
        *,
        type: str | list[str] | None = None,  # Airflow's name, though a builtin
        enum: list[Any] | None = None,
        minimum: float | None = None,
        maximum: float | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        description: str | None = None,
    ) -> None:
        self.default = default
        self.schema: dict[str, Any] = {
            key: value
            for key, value in (
                ("type", type),
                ("enum", enum),
                ("minimum", minimum),
                ("maximum", maximum),
                ("minLength", min_length),
                ("maxLength", max_length),
                ("description", description),
            )
            if value is not None
        }

    @property
    def has_default(self) -> bool:
        return self.default is not _NOT_SET

    def declaration(self) -> dict[str, Any]:
        """The param as the resource declares it."""
        if self.has_default:
            return {"default": self.default, **self.schema}
        return dict(self.schema)

    def __repr__(self) -> str:
        return f"Param({self.declaration()!r})"
