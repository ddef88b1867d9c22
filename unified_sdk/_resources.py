"""Resource namespaces (``client.crm.deals``, ``client.passthrough``).

Resources never touch HTTP: :class:`ResourceFlows` builds the flows once,
and the thin sync and async classes hand them to their client's driver.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from unified_sdk._pagination import AsyncPage, Page, check_page_size
from unified_sdk._paths import check_id
from unified_sdk._pipeline import Blocking, Call, Flow, checked, operation_flow, request_flow
from unified_sdk.errors import ValidationError
from unified_sdk.models import Company, Contact, Deal, Pipeline, User
from unified_sdk.models.crm import write_model
from unified_sdk.provider import ListQuery, ListResult, ProviderRequest, ProviderResponse

if TYPE_CHECKING:
    from unified_sdk._client import AsyncClient, Client, _Core

M = TypeVar("M", bound=BaseModel)


class ResourceFlows(Generic[M]):
    """The flows of one unified resource, shared by the sync and async classes."""

    def __init__(self, core: _Core, resource: str, model: type[M]) -> None:
        self.core = core
        self.resource = resource
        self.model = model

    def _run(self, connection_id: str, op: str, make: Any, id: object = None) -> Flow[Any]:
        cached = self.core.connections_store.cached_record(connection_id)
        if cached is not None:  # no storage I/O: the async client need not hop to a thread
            call, adapter = self.core.prepare(connection_id, self.resource, op, cached)
        else:
            call, adapter = yield Blocking(lambda: self.core.prepare(connection_id, self.resource, op))
        if op in ("get", "update", "delete"):
            checked(call, check_id, id, pattern=adapter.id_pattern)  # before the adapter builds anything
        return (yield from operation_flow(call, make(adapter, call)))

    def list(self, connection_id: str, query: ListQuery) -> Flow[ListResult[M]]:
        def make(adapter: Any, call: Call) -> Any:
            checked(call, check_page_size, query.limit, adapter.max_page_size)  # before the adapter builds anything
            return adapter.list(call.ctx, query)

        result = yield from self._run(connection_id, "list", make)
        return result if result is not None else ListResult([], None)

    def get(self, connection_id: str, id: str) -> Flow[M | None]:
        found: M | None = yield from self._run(connection_id, "get", lambda a, c: a.get(c.ctx, id), id)
        return found

    def create(self, connection_id: str, data: Mapping[str, Any] | BaseModel) -> Flow[M | None]:
        # Validated after the support check (an unsupported write says so first), before sending.
        created: M | None = yield from self._run(
            connection_id, "create", lambda a, c: a.create(c.ctx, self._validate(data))
        )
        return created

    def update(self, connection_id: str, id: str, data: Mapping[str, Any] | BaseModel) -> Flow[M | None]:
        updated: M | None = yield from self._run(
            connection_id, "update", lambda a, c: a.update(c.ctx, id, self._validate(data)), id
        )
        return updated

    def delete(self, connection_id: str, id: str) -> Flow[None]:
        yield from self._run(connection_id, "delete", lambda a, c: a.delete(c.ctx, id), id)

    def _validate(self, data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        """Strict validation of a write, before anything is sent."""
        if isinstance(data, BaseModel):
            data = data.model_dump(exclude_unset=True, exclude={"id", "created_at", "updated_at", "raw"})
        try:
            valid = write_model(self.model).model_validate(data)  # type: ignore[arg-type]
        except PydanticValidationError as exc:
            fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
            raise ValidationError(
                f"invalid {self.model.__name__} fields: {', '.join(fields)}",
                details={"fields": fields, "errors": exc.errors(include_url=False, include_input=False)},
                hint=f"check the {self.model.__name__} field names and types; nothing was sent",
            ) from exc
        return valid.model_dump(exclude_unset=True)


def _query(
    limit: int | None,
    cursor: str | None,
    updated_after: datetime | None,
    fields: Sequence[str] | None,
    filters: Mapping[str, Any],
) -> ListQuery:
    return ListQuery(limit=limit, cursor=cursor, updated_after=updated_after, fields=fields, filters=dict(filters))


class CrmObjects(Generic[M]):
    """``client.crm.deals`` and its siblings: list, get, create, update, delete."""

    def __init__(self, client: Client, flows: ResourceFlows[M]) -> None:
        self._client = client
        self._flows = flows

    def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        fields: Sequence[str] | None = None,
        **filters: Any,
    ) -> Page[M]:
        """One page of records; iterate the page to walk every following page."""
        query = _query(limit, cursor, updated_after, fields, filters)
        result = self._client._run(self._flows.list(connection_id, query))

        def fetch(next_cursor: str) -> Page[M]:
            return self.list(
                connection_id=connection_id,
                limit=limit,
                cursor=next_cursor,
                updated_after=updated_after,
                fields=fields,
                **filters,
            )

        return Page(result.items, result.next_cursor, fetch)

    def get(self, *, connection_id: str, id: str) -> M | None:
        """One record by id."""
        return self._client._run(self._flows.get(connection_id, id))

    def create(self, *, connection_id: str, data: Mapping[str, Any] | M) -> M | None:
        """Create a record from unified fields (a dict or a model); validated before sending."""
        return self._client._run(self._flows.create(connection_id, data))

    def update(self, *, connection_id: str, id: str, data: Mapping[str, Any] | M) -> M | None:
        """Update the given unified fields of a record."""
        return self._client._run(self._flows.update(connection_id, id, data))

    def delete(self, *, connection_id: str, id: str) -> None:
        """Delete (or archive, where the provider archives) a record."""
        self._client._run(self._flows.delete(connection_id, id))


class AsyncCrmObjects(Generic[M]):
    """The async twin of :class:`CrmObjects`."""

    def __init__(self, client: AsyncClient, flows: ResourceFlows[M]) -> None:
        self._client = client
        self._flows = flows

    async def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        fields: Sequence[str] | None = None,
        **filters: Any,
    ) -> AsyncPage[M]:
        """One page of records; ``async for`` over it walks every following page."""
        query = _query(limit, cursor, updated_after, fields, filters)
        result = await self._client._run(self._flows.list(connection_id, query))

        async def fetch(next_cursor: str) -> AsyncPage[M]:
            return await self.list(
                connection_id=connection_id,
                limit=limit,
                cursor=next_cursor,
                updated_after=updated_after,
                fields=fields,
                **filters,
            )

        return AsyncPage(result.items, result.next_cursor, fetch)

    async def get(self, *, connection_id: str, id: str) -> M | None:
        return await self._client._run(self._flows.get(connection_id, id))

    async def create(self, *, connection_id: str, data: Mapping[str, Any] | M) -> M | None:
        return await self._client._run(self._flows.create(connection_id, data))

    async def update(self, *, connection_id: str, id: str, data: Mapping[str, Any] | M) -> M | None:
        return await self._client._run(self._flows.update(connection_id, id, data))

    async def delete(self, *, connection_id: str, id: str) -> None:
        await self._client._run(self._flows.delete(connection_id, id))


class Crm:
    """``client.crm``: deals, contacts, companies, pipelines, users."""

    def __init__(self, client: Client) -> None:
        core = client._core
        self.deals: CrmObjects[Deal] = CrmObjects(client, ResourceFlows(core, "crm.deals", Deal))
        self.contacts: CrmObjects[Contact] = CrmObjects(client, ResourceFlows(core, "crm.contacts", Contact))
        self.companies: CrmObjects[Company] = CrmObjects(client, ResourceFlows(core, "crm.companies", Company))
        self.pipelines: CrmObjects[Pipeline] = CrmObjects(client, ResourceFlows(core, "crm.pipelines", Pipeline))
        self.users: CrmObjects[User] = CrmObjects(client, ResourceFlows(core, "crm.users", User))


class AsyncCrm:
    """``client.crm`` of :class:`AsyncClient`."""

    def __init__(self, client: AsyncClient) -> None:
        core = client._core
        self.deals: AsyncCrmObjects[Deal] = AsyncCrmObjects(client, ResourceFlows(core, "crm.deals", Deal))
        self.contacts: AsyncCrmObjects[Contact] = AsyncCrmObjects(client, ResourceFlows(core, "crm.contacts", Contact))
        self.companies: AsyncCrmObjects[Company] = AsyncCrmObjects(
            client, ResourceFlows(core, "crm.companies", Company)
        )
        self.pipelines: AsyncCrmObjects[Pipeline] = AsyncCrmObjects(
            client, ResourceFlows(core, "crm.pipelines", Pipeline)
        )
        self.users: AsyncCrmObjects[User] = AsyncCrmObjects(client, ResourceFlows(core, "crm.users", User))


def passthrough_flow(
    core: _Core,
    connection_id: str,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Generator[Any, Any, ProviderResponse | None]:
    call: Call = yield Blocking(lambda: core.prepare_passthrough(connection_id))
    preq = ProviderRequest(method, path, params=params, json=json, data=data, headers=headers)
    return (yield from request_flow(call, preq))
