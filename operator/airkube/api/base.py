"""The base classes of every resource model: camelCase field names, immutable instances."""

from typing import Any, Self

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """A part of a resource written by people (``spec``): unknown fields are errors.

    Python attributes are snake_case; the resource's field names are their camelCase
    aliases. Either spelling is accepted on input.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        frozen=True,
        extra="forbid",
    )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form, as stored in the resource (camelCase, no null fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Validate a resource fragment (a dict as read from YAML or the API server)."""
        return cls.model_validate(data)


class StatusModel(ApiModel):
    """A part of a resource written by the operator (``status``, metadata).

    Unknown fields are ignored so that an older operator can read what a newer one wrote.
    """

    model_config = ConfigDict(extra="ignore")
