"""Shared pieces of the sandbox adapters: cheap value conversions and the generic CRUD flows.

Listings map thousands of records, so conversions avoid re-validation:
``datetime.fromisoformat`` and ``Decimal(str)`` build exactly-typed values and
models are made with :func:`unified_sdk.models.construct`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from unified_sdk.errors import ValidationError
from unified_sdk.models import Address, Email, Metadata, Telephone, construct
from unified_sdk.provider import (
    CrmObjectAdapter,
    ListQuery,
    ListResult,
    OperationContext,
    OperationFlow,
    ProviderRequest,
    build_path,
)

M = TypeVar("M")
T = TypeVar("T")

MAX_PAGE = 100
"""The sandbox's largest page size."""

_fromiso = datetime.fromisoformat


def _construct_metadata(**values: Any) -> Metadata:
    return construct(Metadata, **values)


def _construct_email(**values: Any) -> Email:
    return construct(Email, **values)


def _construct_phone(**values: Any) -> Telephone:
    return construct(Telephone, **values)


def timestamp(value: str | None) -> datetime | None:
    """A sandbox timestamp (``2024-03-05T10:22:31.000Z``) as an aware datetime."""
    return _fromiso(value) if value else None


def day(value: str | None) -> datetime | None:
    """A sandbox date (``2025-03-31``) as midnight UTC."""
    if not value:
        return None
    d = date.fromisoformat(value)
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def decimal(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


def metadata(custom: Mapping[str, Any] | None) -> list[Metadata]:
    """Sandbox ``custom_fields`` as unified metadata (the field name is both id and slug)."""
    if not custom:
        return []
    return [_construct_metadata(id=k, slug=k, value=v) for k, v in custom.items()]


def emails(items: list[Mapping[str, Any]] | None, key: str = "address") -> list[Email]:
    return [_construct_email(email=e[key], type=e.get("label")) for e in items or ()]


def telephones(items: list[Mapping[str, Any]] | None) -> list[Telephone]:
    return [_construct_phone(telephone=p["number"], type=p.get("label")) for p in items or ()]


def address(value: Mapping[str, Any] | None) -> Address | None:
    if not value:
        return None
    return construct(
        Address,
        address1=value.get("line1"),
        address2=value.get("line2"),
        city=value.get("city"),
        region=value.get("state"),
        region_code=value.get("state_code"),
        postal_code=value.get("postal_code"),
        country=value.get("country"),
        country_code=value.get("country_code"),
    )


# -- writes: unified values -> sandbox values -----------------------------------------------------


def write_timestamp(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return str(value)


def write_day(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is None else value.astimezone(UTC)
        return moment.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


def write_metadata(items: list[Mapping[str, Any]] | None) -> dict[str, Any]:
    """Unified metadata as sandbox ``custom_fields`` (keyed by slug, else id; ``None`` deletes)."""
    out: dict[str, Any] = {}
    for item in items or ():
        key = item.get("slug") or item.get("id")
        if not key:
            raise invalid("metadata", "every metadata item needs a slug or an id (the custom field name)")
        out[str(key)] = item.get("value")
    return out


def write_address(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    return {
        "line1": value.get("address1"),
        "line2": value.get("address2"),
        "city": value.get("city"),
        "state": value.get("region"),
        "state_code": value.get("region_code"),
        "postal_code": value.get("postal_code"),
        "country": value.get("country"),
        "country_code": value.get("country_code"),
    }


def single(data: Mapping[str, Any], field: str, what: str) -> Any:
    """The one value of a unified list field the sandbox stores as a single value."""
    values = data[field]
    if values is None or len(values) == 0:
        return None
    if len(values) > 1:
        raise invalid(field, f"the sandbox stores one {what} per record; got {len(values)}")
    return values[0]


def invalid(field: str, message: str) -> ValidationError:
    return ValidationError(
        f"sandbox: {message}",
        provider="sandbox",
        details={"fields": [field]},
        hint="change the request; nothing was sent",
    )


# -- the generic CRUD flows -------------------------------------------------------------------


FILTER_PARAMS = {
    "created_after": "created_since",
    "stage_id": "stage_id",
    "pipeline_id": "pipeline_id",
    "user_id": "owner_id",
    "company_id": "company_id",
    "contact_id": "contact_id",
    "email": "email",
    "query": "q",
}
"""Unified list filter -> the sandbox's query parameter."""


def list_params(query: ListQuery) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": min(max(query.limit or MAX_PAGE, 1), MAX_PAGE)}
    if query.cursor:
        params["cursor"] = query.cursor
        return params  # the cursor carries the filters and the order of the first page
    if query.updated_after is not None:
        params["updated_since"] = write_timestamp(query.updated_after)
    for key, value in query.filters.items():
        params[FILTER_PARAMS[key]] = write_timestamp(value) if key == "created_after" else value
    if query.sort is not None:
        params["sort"] = ("-" if query.order == "desc" else "") + query.sort
    return params


class SandboxObjectAdapter(CrmObjectAdapter[M]):
    """CRUD over ``/v1/<path>`` with a record converter and a write-body builder per resource."""

    path: ClassVar[str]
    max_page_size = MAX_PAGE

    def to_model(self, record: dict[str, Any]) -> M:
        """One sandbox record as the unified model."""
        raise NotImplementedError

    def to_body(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Unified write fields as the sandbox write body."""
        raise NotImplementedError

    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[M]]:
        response = yield ProviderRequest("GET", f"/v1/{self.path}", params=list_params(query))
        body = response.json()
        convert = self.to_model
        return ListResult([convert(r) for r in body["data"]], body.get("next_cursor"))

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[M]:
        response = yield ProviderRequest("GET", self._record_path(id))
        return self.to_model(response.json())

    def create(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[M]:
        body = yield from self.build_body(ctx, data)
        response = yield ProviderRequest("POST", f"/v1/{self.path}", json=body)
        return self.to_model(response.json())

    def _record_path(self, id: str) -> str:
        return build_path("/v1/{resource}/{id}", resource=self.path, id=id)

    def update(self, ctx: OperationContext, id: str, data: Mapping[str, Any]) -> OperationFlow[M]:
        body = yield from self.build_body(ctx, data)
        response = yield ProviderRequest("PATCH", self._record_path(id), json=body)
        return self.to_model(response.json())

    def delete(self, ctx: OperationContext, id: str) -> OperationFlow[None]:
        yield ProviderRequest("DELETE", self._record_path(id))
        return None

    def build_body(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[dict[str, Any]]:
        """The sandbox write body; may send requests first (e.g. to resolve a stage label)."""
        return self.to_body(data)
        yield  # pragma: no cover - makes this a generator
