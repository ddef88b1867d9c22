"""CRM resource namespaces (``client.crm.deals`` and its siblings).

Resources never touch HTTP: :class:`ResourceFlows` builds the flows once,
and the thin sync and async classes hand them to their client's driver.
Importing this module imports no pydantic (the models load with the provider
plugin, in a worker thread on the async client), so ``AsyncClient.crm`` is
cheap on the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from unified_sdk._calls import prepare
from unified_sdk._capabilities import check_list, check_writable
from unified_sdk._drivers import AsyncRunner, SyncRunner
from unified_sdk._pagination import AsyncPage, Page, check_page_size
from unified_sdk._paths import check_id
from unified_sdk._pipeline import Blocking, Call, CallOptions, Flow, checked, operation_flow
from unified_sdk.errors import ConfigurationError, NotFoundError, NotSupportedError, ProviderError, ValidationError
from unified_sdk.provider import ListQuery, ListResult

if TYPE_CHECKING:
    from pydantic import BaseModel

    from unified_sdk._runtime import Runtime
    from unified_sdk.models import Company, Contact, Deal, Pipeline, User

M = TypeVar("M", bound="BaseModel")


class ResourceFlows(Generic[M]):
    """The flows of one unified resource, shared by the sync and async classes."""

    def __init__(self, runtime: Runtime, resource: str, model: str, options: CallOptions | None = None) -> None:
        self.runtime = runtime
        self.resource = resource
        self._model_name = model
        self.options = options or CallOptions()
        """The client's call limits (its ``with_options``); a call's ``timeout=`` overrides them."""

    @property
    def model(self) -> type[M]:
        """The unified model class (``model`` names it in :mod:`unified_sdk.models`)."""
        import unified_sdk.models

        model: type[M] = getattr(unified_sdk.models, self._model_name)
        return model

    def _run(
        self,
        connection_id: str,
        op: str,
        make: Any,
        id: object = None,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Flow[Any]:
        options = self.options.merged(timeout=timeout)  # a bad timeout is refused here, before anything else
        cached = self.runtime.cached_record(connection_id)
        if cached is not None and self.runtime.provider_for(cached.provider).adapter_loaded(self.resource):
            # No storage I/O and no import: the async client need not hop to a thread.
            call, adapter = prepare(self.runtime, connection_id, self.resource, op, cached, options=options)
        else:
            call, adapter = yield Blocking(
                lambda: prepare(self.runtime, connection_id, self.resource, op, options=options)
            )
        if op in ("get", "update", "delete"):
            checked(call, check_id, id, pattern=adapter.id_pattern)  # before the adapter builds anything
        if idempotency_key is not None:
            _check_idempotency_key(call, idempotency_key)
            call.use_idempotency_key(idempotency_key)
        return (yield from operation_flow(call, make(adapter, call)))

    def list(self, connection_id: str, query: ListQuery, timeout: float | None = None) -> Flow[ListResult[M]]:
        def make(adapter: Any, call: Call) -> Any:
            checked(call, check_page_size, query.limit, adapter.max_page_size)  # before the adapter builds anything
            checked(call, check_list, call.provider.name, self.resource, adapter, query)
            return adapter.list(call.ctx, query)

        result = yield from self._run(connection_id, "list", make, timeout=timeout)
        return result if result is not None else ListResult([], None)

    def get(self, connection_id: str, id: str, timeout: float | None = None) -> Flow[M]:
        found: M | None = yield from self._run(connection_id, "get", lambda a, c: a.get(c.ctx, id), id, timeout=timeout)
        return self._record(found, connection_id, "get", id)

    def create(
        self,
        connection_id: str,
        data: Mapping[str, Any] | BaseModel,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Flow[M]:
        # Validated after the support check (an unsupported write says so first), before sending.
        created: M | None = yield from self._run(
            connection_id,
            "create",
            lambda a, c: a.create(c.ctx, self._write(c, a, data)),
            None,
            idempotency_key,
            timeout,
        )
        return self._record(created, connection_id, "create", None)

    def update(
        self,
        connection_id: str,
        id: str,
        data: Mapping[str, Any] | BaseModel,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> Flow[M]:
        updated: M | None = yield from self._run(
            connection_id,
            "update",
            lambda a, c: a.update(c.ctx, id, self._write(c, a, data)),
            id,
            idempotency_key,
            timeout,
        )
        return self._record(updated, connection_id, "update", id)

    def _record(self, found: M | None, connection_id: str, operation: str, id: str | None) -> M:
        """The record an operation returned; none (an action rule turned a failure into success) is an error."""
        if found is not None:
            return found
        what = f"{self.resource}.{operation}" + (f" of {id!r}" if id else "")
        cls = NotFoundError if operation == "get" else ProviderError
        raise cls(
            f"{what} returned no record",
            connection_id=connection_id,
            hint="a response-action rule treated the provider's failure as success, so there is no record to return",
        )

    def delete(self, connection_id: str, id: str, timeout: float | None = None) -> Flow[None]:
        yield from self._run(connection_id, "delete", lambda a, c: a.delete(c.ctx, id), id, timeout=timeout)

    def _write(self, call: Call, adapter: Any, data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        """The validated write, refused when it names a field the provider cannot write."""
        valid = self._validate(data)
        checked(call, check_writable, call.provider.name, self.resource, adapter, valid)
        return valid

    def _validate(self, data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        """Strict validation of a write, before anything is sent."""
        from pydantic import BaseModel
        from pydantic import ValidationError as PydanticValidationError

        from unified_sdk.models.crm import write_model

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


#: The longest caller idempotency key accepted (room is left for the ``:n`` of later writes).
MAX_IDEMPOTENCY_KEY = 200


def _check_idempotency_key(call: Call, key: str) -> None:
    """Refuse a caller's idempotency key the provider cannot honour, or that cannot be sent as a header."""
    provider = call.provider
    if provider.idempotency_header is None:
        raise NotSupportedError(
            f"{provider.name} does not accept idempotency keys; {call.operation} was not sent",
            provider=provider.name,
            connection_id=call.conn.id,
            hint="call it without idempotency_key=; after a lost answer, look the record up before retrying",
        )
    if (
        not isinstance(key, str)
        or not 0 < len(key) <= MAX_IDEMPOTENCY_KEY
        or key != key.strip()
        or not all(" " <= ch <= "~" for ch in key)
    ):
        raise ConfigurationError(
            f"invalid idempotency_key: give 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters "
            "without leading or trailing spaces; nothing was sent",
            provider=provider.name,
            connection_id=call.conn.id,
            hint="use a UUID or your own stable id for the write (e.g. the order id)",
        )


Sort = Literal["created_at", "updated_at", "name"]
"""The unified fields ``list(sort=...)`` may name; each provider supports those its capabilities list."""
Order = Literal["asc", "desc"]


def _query(
    limit: int | None,
    cursor: str | None,
    updated_after: datetime | None,
    fields: Sequence[str] | None,
    filters: Mapping[str, Any],
    sort: str | None = None,
    order: str = "asc",
) -> ListQuery:
    given = {k: v for k, v in filters.items() if v is not None}
    return ListQuery(
        limit=limit, cursor=cursor, updated_after=updated_after, fields=fields, filters=given, sort=sort, order=order
    )


class CrmObjects(Generic[M]):
    """``client.crm.pipelines`` and ``client.crm.users``; the base of deals, contacts and companies.

    ``list``, ``get``, ``create``, ``update``, ``delete``: each provider supports those its
    capabilities list (``client.providers.get(name).capabilities``); the others raise
    :class:`~unified_sdk.errors.NotSupportedError` before anything is sent.
    """

    def __init__(self, run: SyncRunner, flows: ResourceFlows[M]) -> None:
        self._run = run
        self._flows = flows

    def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        fields: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> Page[M]:
        """One page of records; iterate the page to walk every following page.

        ``timeout`` (seconds, for this call and each following page's) overrides the client's.
        """
        return self._list(connection_id, limit, cursor, updated_after, fields, timeout, {}, None, "asc")

    def _list(
        self,
        connection_id: str,
        limit: int | None,
        cursor: str | None,
        updated_after: datetime | None,
        fields: Sequence[str] | None,
        timeout: float | None,
        filters: Mapping[str, Any],
        sort: str | None,
        order: str,
    ) -> Page[M]:
        query = _query(limit, cursor, updated_after, fields, filters, sort, order)
        result = self._run(self._flows.list(connection_id, query, timeout))

        def fetch(next_cursor: str) -> Page[M]:
            return self._list(connection_id, limit, next_cursor, updated_after, fields, timeout, filters, sort, order)

        return Page(result.items, result.next_cursor, fetch)

    def get(self, *, connection_id: str, id: str, timeout: float | None = None) -> M:
        """One record by id; :class:`~unified_sdk.errors.NotFoundError` when there is none.

        ``timeout`` (seconds, on every operation) bounds this call instead of the client's timeout.
        """
        return self._run(self._flows.get(connection_id, id, timeout))

    def create(
        self,
        *,
        connection_id: str,
        data: Mapping[str, Any] | M,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> M:
        """Create a record from unified fields (a dict or a model); validated before sending.

        ``idempotency_key`` (where the provider supports keys) makes repeating the call
        safe: send the same key again after a lost answer and the provider does it once.
        Without one, a lost answer raises :class:`~unified_sdk.errors.OutcomeUnknownError`.
        A field the provider cannot write raises :class:`~unified_sdk.errors.NotSupportedError`.

        Example::

            deal = client.crm.deals.create(connection_id=cid, data={"name": "Renewal"}, idempotency_key=order.id)
        """
        return self._run(self._flows.create(connection_id, data, idempotency_key, timeout))

    def update(
        self,
        *,
        connection_id: str,
        id: str,
        data: Mapping[str, Any] | M,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> M:
        """Update the given unified fields of a record; ``idempotency_key`` as for :meth:`create`."""
        return self._run(self._flows.update(connection_id, id, data, idempotency_key, timeout))

    def delete(self, *, connection_id: str, id: str, timeout: float | None = None) -> None:
        """Delete (or archive, where the provider archives) a record."""
        self._run(self._flows.delete(connection_id, id, timeout))


class Deals(CrmObjects["Deal"]):
    """``client.crm.deals``."""

    def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        created_after: datetime | None = None,
        stage_id: str | None = None,
        pipeline_id: str | None = None,
        user_id: str | None = None,
        company_id: str | None = None,
        contact_id: str | None = None,
        query: str | None = None,
        sort: Sort | None = None,
        order: Order = "asc",
        fields: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> Page[Deal]:
        """One page of deals matching every filter given; iterate the page to walk the following pages.

        Filters: ``stage_id``, ``pipeline_id``, ``user_id`` (owner), ``company_id``, ``contact_id``
        (an associated record), ``query`` (free text, as the provider searches it), ``updated_after``,
        ``created_after``; ``sort`` (``created_at``, ``updated_at``, ``name``) in ``order``. A filter or
        sort the provider cannot apply raises :class:`~unified_sdk.errors.NotSupportedError` before any
        request (see ``client.providers.get(name).capabilities["crm.deals"]``).

        Example::

            for deal in client.crm.deals.list(connection_id=cid, stage_id="closedwon", sort="updated_at"):
                ...
        """
        filters = {
            "created_after": created_after,
            "stage_id": stage_id,
            "pipeline_id": pipeline_id,
            "user_id": user_id,
            "company_id": company_id,
            "contact_id": contact_id,
            "query": query,
        }
        return self._list(connection_id, limit, cursor, updated_after, fields, timeout, filters, sort, order)


class Contacts(CrmObjects["Contact"]):
    """``client.crm.contacts``."""

    def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        email: str | None = None,
        company_id: str | None = None,
        user_id: str | None = None,
        query: str | None = None,
        sort: Sort | None = None,
        order: Order = "asc",
        fields: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> Page[Contact]:
        """One page of contacts matching every filter given (``email``, ``company_id``, ``user_id``,
        ``query``, ``updated_after``), in ``sort`` order; as for :meth:`Deals.list`."""
        filters = {"email": email, "company_id": company_id, "user_id": user_id, "query": query}
        return self._list(connection_id, limit, cursor, updated_after, fields, timeout, filters, sort, order)


class Companies(CrmObjects["Company"]):
    """``client.crm.companies``."""

    def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        user_id: str | None = None,
        query: str | None = None,
        sort: Sort | None = None,
        order: Order = "asc",
        fields: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> Page[Company]:
        """One page of companies matching every filter given (``user_id``, ``query``, ``updated_after``),
        in ``sort`` order; as for :meth:`Deals.list`."""
        filters = {"user_id": user_id, "query": query}
        return self._list(connection_id, limit, cursor, updated_after, fields, timeout, filters, sort, order)


class AsyncCrmObjects(Generic[M]):
    """The async twin of :class:`CrmObjects`."""

    def __init__(self, run: AsyncRunner, flows: ResourceFlows[M]) -> None:
        self._run = run
        self._flows = flows

    async def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        fields: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> AsyncPage[M]:
        """One page of records; ``async for`` over it walks every following page (``timeout`` as for sync)."""
        return await self._list(connection_id, limit, cursor, updated_after, fields, timeout, {}, None, "asc")

    async def _list(
        self,
        connection_id: str,
        limit: int | None,
        cursor: str | None,
        updated_after: datetime | None,
        fields: Sequence[str] | None,
        timeout: float | None,
        filters: Mapping[str, Any],
        sort: str | None,
        order: str,
    ) -> AsyncPage[M]:
        query = _query(limit, cursor, updated_after, fields, filters, sort, order)
        result = await self._run(self._flows.list(connection_id, query, timeout))

        async def fetch(next_cursor: str) -> AsyncPage[M]:
            return await self._list(
                connection_id, limit, next_cursor, updated_after, fields, timeout, filters, sort, order
            )

        return AsyncPage(result.items, result.next_cursor, fetch)

    async def get(self, *, connection_id: str, id: str, timeout: float | None = None) -> M:
        return await self._run(self._flows.get(connection_id, id, timeout))

    async def create(
        self,
        *,
        connection_id: str,
        data: Mapping[str, Any] | M,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> M:
        """Create a record; see :meth:`CrmObjects.create`."""
        return await self._run(self._flows.create(connection_id, data, idempotency_key, timeout))

    async def update(
        self,
        *,
        connection_id: str,
        id: str,
        data: Mapping[str, Any] | M,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> M:
        """Update a record; see :meth:`CrmObjects.update`."""
        return await self._run(self._flows.update(connection_id, id, data, idempotency_key, timeout))

    async def delete(self, *, connection_id: str, id: str, timeout: float | None = None) -> None:
        await self._run(self._flows.delete(connection_id, id, timeout))


class AsyncDeals(AsyncCrmObjects["Deal"]):
    """``client.crm.deals`` of :class:`AsyncClient`; filters and sorts as for :meth:`Deals.list`."""

    async def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        created_after: datetime | None = None,
        stage_id: str | None = None,
        pipeline_id: str | None = None,
        user_id: str | None = None,
        company_id: str | None = None,
        contact_id: str | None = None,
        query: str | None = None,
        sort: Sort | None = None,
        order: Order = "asc",
        fields: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> AsyncPage[Deal]:
        """One page of deals; see :meth:`Deals.list`."""
        filters = {
            "created_after": created_after,
            "stage_id": stage_id,
            "pipeline_id": pipeline_id,
            "user_id": user_id,
            "company_id": company_id,
            "contact_id": contact_id,
            "query": query,
        }
        return await self._list(connection_id, limit, cursor, updated_after, fields, timeout, filters, sort, order)


class AsyncContacts(AsyncCrmObjects["Contact"]):
    """``client.crm.contacts`` of :class:`AsyncClient`."""

    async def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        email: str | None = None,
        company_id: str | None = None,
        user_id: str | None = None,
        query: str | None = None,
        sort: Sort | None = None,
        order: Order = "asc",
        fields: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> AsyncPage[Contact]:
        """One page of contacts; see :meth:`Contacts.list`."""
        filters = {"email": email, "company_id": company_id, "user_id": user_id, "query": query}
        return await self._list(connection_id, limit, cursor, updated_after, fields, timeout, filters, sort, order)


class AsyncCompanies(AsyncCrmObjects["Company"]):
    """``client.crm.companies`` of :class:`AsyncClient`."""

    async def list(
        self,
        *,
        connection_id: str,
        limit: int | None = None,
        cursor: str | None = None,
        updated_after: datetime | None = None,
        user_id: str | None = None,
        query: str | None = None,
        sort: Sort | None = None,
        order: Order = "asc",
        fields: Sequence[str] | None = None,
        timeout: float | None = None,
    ) -> AsyncPage[Company]:
        """One page of companies; see :meth:`Companies.list`."""
        filters = {"user_id": user_id, "query": query}
        return await self._list(connection_id, limit, cursor, updated_after, fields, timeout, filters, sort, order)


class Crm:
    """``client.crm``: deals, contacts, companies, pipelines, users."""

    def __init__(self, runtime: Runtime, run: SyncRunner, options: CallOptions | None = None) -> None:
        self.deals = Deals(run, ResourceFlows(runtime, "crm.deals", "Deal", options))
        self.contacts = Contacts(run, ResourceFlows(runtime, "crm.contacts", "Contact", options))
        self.companies = Companies(run, ResourceFlows(runtime, "crm.companies", "Company", options))
        self.pipelines: CrmObjects[Pipeline] = CrmObjects(
            run, ResourceFlows(runtime, "crm.pipelines", "Pipeline", options)
        )
        self.users: CrmObjects[User] = CrmObjects(run, ResourceFlows(runtime, "crm.users", "User", options))


class AsyncCrm:
    """``client.crm`` of :class:`AsyncClient`."""

    def __init__(self, runtime: Runtime, run: AsyncRunner, options: CallOptions | None = None) -> None:
        self.deals = AsyncDeals(run, ResourceFlows(runtime, "crm.deals", "Deal", options))
        self.contacts = AsyncContacts(run, ResourceFlows(runtime, "crm.contacts", "Contact", options))
        self.companies = AsyncCompanies(run, ResourceFlows(runtime, "crm.companies", "Company", options))
        self.pipelines: AsyncCrmObjects[Pipeline] = AsyncCrmObjects(
            run, ResourceFlows(runtime, "crm.pipelines", "Pipeline", options)
        )
        self.users: AsyncCrmObjects[User] = AsyncCrmObjects(run, ResourceFlows(runtime, "crm.users", "User", options))
