"""``unified_sdk.models.construct``: the fast builder every plugin maps listings with."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import Field

from unified_sdk.models import Address, Deal, Metadata, construct
from unified_sdk.models._base import UnifiedModel


def test_construct_builds_the_same_model_as_model_construct() -> None:
    values: dict[str, Any] = {
        "id": "006A",
        "name": "x",
        "amount": Decimal("1.10"),
        "tags": ["a"],
        "metadata": [construct(Metadata, id="a__c", slug="a__c", value=1)],
    }
    fast, slow = construct(Deal, **values), Deal.model_construct(**values)
    assert fast == slow
    assert fast.model_fields_set == slow.model_fields_set == set(values)
    assert fast.model_dump() == slow.model_dump()
    assert construct(Address) == Address.model_construct()


def test_constructed_models_share_no_state() -> None:
    one, two = construct(Deal, id="1"), construct(Deal, id="2")
    one.name = "renamed"
    assert two.name is None and "name" in one.model_fields_set and "name" not in two.model_fields_set


class _WithFactory(UnifiedModel):
    items: list[str] = Field(default_factory=list)


def test_default_factories_give_each_model_its_own_value() -> None:
    one, two = construct(_WithFactory), construct(_WithFactory)
    one.items.append("x")
    assert two.items == [] and one.items == ["x"]
