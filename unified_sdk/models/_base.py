"""The one base model config every unified model shares."""

from __future__ import annotations

from typing import Any, TypeVar

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
        # Listings build models with ``construct`` (no validation): build the schema on first validation only.
        defer_build=True,
    )

    def __repr_args__(self) -> Any:
        # ``raw`` repeats the whole provider record; keep reprs readable.
        return [(k, v) for k, v in super().__repr_args__() if k != "raw"]


_TEMPLATES: dict[type[Any], dict[str, Any]] = {}
_set_attr = object.__setattr__
T = TypeVar("T", bound=BaseModel)


def construct(cls: type[T], **values: Any) -> T:
    """Build ``cls`` from values that already have the right types, without validation.

    The same model as ``cls.model_construct(**values)``, without its walk over
    every field: plugins map tens of thousands of records in a listing, so this
    fills the model's slots from a per-class template of defaults. Use it only
    with values you converted yourself (``datetime.fromisoformat``, ``Decimal``…).
    """
    template = _TEMPLATES.get(cls)
    if template is None:
        model: Any = cls
        if (
            model.__pydantic_post_init__
            or model.__pydantic_root_model__
            or model.model_config.get("extra") == "allow"
            # A template would share one default_factory object among every instance.
            or any(f.default_factory is not None for f in model.model_fields.values())
        ):
            return cls.model_construct(**values)
        template = _TEMPLATES[cls] = dict(model.model_construct().__dict__)
    obj = cls.__new__(cls)
    fields = template.copy()
    fields.update(values)
    _set_attr(obj, "__dict__", fields)
    _set_attr(obj, "__pydantic_fields_set__", set(values))
    _set_attr(obj, "__pydantic_extra__", None)
    _set_attr(obj, "__pydantic_private__", None)
    return obj
