"""The one base model config every unified model shares."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class UnifiedModel(BaseModel):
    """Base of the unified models.

    Reads are tolerant: fields a provider leaves out are ``None``, unknown
    fields are ignored. Writes go through :meth:`for_write`, which is strict.
    """

    model_config = ConfigDict(
        extra="ignore",
        populate_by_name=True,
        validate_assignment=False,
        arbitrary_types_allowed=False,
        ser_json_timedelta="float",
    )

    def __repr_args__(self) -> Any:
        # ``raw`` repeats the whole provider record; keep reprs readable.
        return [(k, v) for k, v in super().__repr_args__() if k != "raw"]
