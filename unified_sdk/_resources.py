"""CRM resource namespaces (``client.crm.deals`` and its siblings).

Resources never touch HTTP: :class:`ResourceFlows` builds the flows once,
and the thin sync and async classes hand them to their client's driver.
Importing this module imports no pydantic (the models load with the provider
plugin, in a worker thread on the async client), so ``AsyncClient.crm`` is
cheap on the event loop.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from unified_sdk._batch import BatchItem, BatchResult
from unified_sdk._calls import prepare
from unified_sdk._capabilities import check_list, check_writable
from unified_sdk._drivers import AsyncRunner, SyncRunner
from unified_sdk._limits import deadline_after, time_left
from unified_sdk._outcome import Category
from unified_sdk._pagination import AsyncPage, Page, check_page_size
from unified_sdk._paths import check_id
from unified_sdk._pipeline import Blocking, Call, CallOptions, Flow, checked, operation_flow
from unified_sdk._redact import redact_text, redact_value
from unified_sdk.errors import (
    ConfigurationError,
    NotFoundError,
    NotSupportedError,
    ProviderError,
    ProviderTimeoutError,
    UnifiedError,
    ValidationError,
)
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
        call, adapter = yield from self._prepare(connection_id, op, timeout)
        if op in ("get", "update", "delete"):
            checked(call, check_id, id, pattern=adapter.id_pattern)  # before the adapter builds anything
        if idempotency_key is not None:
            _check_idempotency_key(call, idempotency_key)
            call.use_idempotency_key(idempotency_key)
        return (yield from operation_flow(call, make(adapter, call)))

    def _prepare(self, connection_id: str, op: str, timeout: float | None) -> Flow[tuple[Call, Any]]:
        options = self.options.merged(timeout=timeout)  # a bad timeout is refused here, before anything else
        cached = self.runtime.cached_record(connection_id)
        if cached is not None and self.runtime.provider_for(cached.provider).adapter_loaded(self.resource):
            # No storage I/O and no import: the async client need not hop to a thread.
            return prepare(self.runtime, connection_id, self.resource, op, cached, options=options)
        prepared: tuple[Call, Any] = yield Blocking(
            lambda: prepare(self.runtime, connection_id, self.resource, op, options=options)
        )
        return prepared

    def list(self, connection_id: str, query: ListQuery, timeout: float | None = None) -> Flow[ListResult[M]]:
        largest: list[int] = []  # the size the page asked for, for a smaller retry of a page without a limit

        def page(query: ListQuery, timeout: float | None) -> Flow[ListResult[M] | None]:
            def make(adapter: Any, call: Call) -> Any:
                checked(call, check_page_size, query.limit, adapter.max_page_size)  # before the adapter builds anything
                checked(call, check_list, call.provider.name, self.resource, adapter, query)
                largest.append(query.limit or adapter.page_size(query))
                return adapter.list(call.ctx, query)

            return self._run(connection_id, "list", make, timeout=timeout)

        limit = self.options.merged(timeout=timeout).timeout  # a bad timeout is refused here, before anything else
        result = yield from _smaller_on_timeout(page, query, largest, self.runtime.timeout if limit is None else limit)
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

    def create_many(
        self, connection_id: str, data: Sequence[Mapping[str, Any] | BaseModel], timeout: float | None = None
    ) -> Flow[BatchResult[M]]:
        call, adapter = yield from self._prepare(connection_id, "create", timeout)  # an unknown connection raises here
        results: dict[int, BatchItem[M]] = {}
        valid: list[tuple[int, Any]] = []
        for index, item in enumerate(_sequence(data, "create_many")):
            try:
                valid.append((index, self._write(call, adapter, item)))
            except (ValidationError, NotSupportedError) as exc:  # this item alone is refused; the others go
                results[index] = BatchItem(index, error=_for_item(exc, index))
        yield from self._write_many(connection_id, "create", valid, results, timeout)
        return BatchResult([results[i] for i in sorted(results)])

    def update_many(
        self,
        connection_id: str,
        data: Sequence[tuple[str, Mapping[str, Any] | BaseModel]],
        timeout: float | None = None,
    ) -> Flow[BatchResult[M]]:
        call, adapter = yield from self._prepare(connection_id, "update", timeout)
        results: dict[int, BatchItem[M]] = {}
        valid: list[tuple[int, Any]] = []
        for index, pair in enumerate(_sequence(data, "update_many")):
            try:
                if not isinstance(pair, tuple) or len(pair) != 2:
                    raise ValidationError(
                        f"update_many item {index} is not an (id, data) pair",
                        hint="give update_many(data=[(id, {field: value, ...}), ...]); nothing was sent for it",
                        details={"fields": [str(index)]},
                    )
                id, fields = pair
                checked(call, check_id, id, pattern=adapter.id_pattern)
                valid.append((index, (id, self._write(call, adapter, fields))))
            except (ValidationError, NotSupportedError) as exc:  # this item alone is refused; the others go
                results[index] = BatchItem(index, error=_for_item(exc, index))
        yield from self._write_many(connection_id, "update", valid, results, timeout)
        return BatchResult([results[i] for i in sorted(results)])

    def _write_many(
        self,
        connection_id: str,
        op: str,
        valid: builtins.list[tuple[int, Any]],
        results: dict[int, BatchItem[M]],
        timeout: float | None,
    ) -> Flow[None]:
        """Write the valid items: in the provider's batch requests where it has them, else one call each.

        Every request goes through the pipeline, so the throttle paces them and rate limits are
        waited out. A failed request fails only its own items; an error that every later request
        would meet too (dead credentials, a missing scope) fails the rest without sending them.
        """
        if not valid:
            return
        _, adapter = yield from self._prepare(connection_id, op, timeout)
        size = adapter.batch_size if adapter.supports(f"{op}_many") else None
        chunks = [valid[i : i + size] for i in range(0, len(valid), size)] if size else [[item] for item in valid]
        fatal: UnifiedError | None = None
        for chunk in chunks:
            if fatal is not None:
                for index, _ in chunk:
                    results[index] = BatchItem(index, error=fatal)
                continue
            try:
                written = yield from self._send_chunk(connection_id, op, size is not None, chunk, timeout)
            except UnifiedError as exc:
                for index, _ in chunk:
                    results[index] = BatchItem(index, error=exc)
                if _stops_batch(exc):
                    fatal = exc
                continue
            for (index, _), outcome in zip(chunk, written, strict=True):
                if isinstance(outcome, UnifiedError):
                    outcome.provider = outcome.provider or self._provider_of(connection_id)
                    outcome.connection_id = outcome.connection_id or connection_id
                    results[index] = BatchItem(index, error=_for_item(outcome, index))
                else:
                    results[index] = BatchItem(index, record=outcome)

    def _send_chunk(
        self, connection_id: str, op: str, batched: bool, chunk: builtins.list[tuple[int, Any]], timeout: float | None
    ) -> Flow[builtins.list[Any]]:
        """One batch request (or, without a batch endpoint, one call for the single item)."""
        if not batched:
            [(_, item)] = chunk
            id: str | None = item[0] if op == "update" else None
            if op == "update":
                record = yield from self._run(connection_id, op, lambda a, c: a.update(c.ctx, *item), id, None, timeout)
            else:
                record = yield from self._run(
                    connection_id, op, lambda a, c: a.create(c.ctx, item), None, None, timeout
                )
            return [self._record(record, connection_id, op, id)]
        items = [item for _, item in chunk]
        method = f"{op}_many"
        written = yield from self._run(
            connection_id, method, lambda a, c: getattr(a, method)(c.ctx, items), None, None, timeout
        )
        if isinstance(written, list):
            cached = self.runtime.cached_record(connection_id)
            secrets = cached.secrets if cached is not None else []
            written = [_redacted(w, secrets, connection_id) if isinstance(w, UnifiedError) else w for w in written]
        if not isinstance(written, list) or len(written) != len(items):
            raise ProviderError(
                f"{self.resource}.{method} returned {len(written) if isinstance(written, list) else 'no'} results "
                f"for {len(items)} inputs",
                connection_id=connection_id,
                hint="the provider plugin's batch mapping is wrong; report it (the items may have been written)",
            )
        return written

    def _provider_of(self, connection_id: str) -> str | None:
        cached = self.runtime.cached_record(connection_id)
        return cached.provider if cached is not None else None

    def _write(self, call: Call, adapter: Any, data: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
        """The validated write, refused when it names a field the provider cannot write."""
        valid: dict[str, Any] = checked(call, self._validate, data)
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


#: The smallest page a listing shrinks to when a page times out.
MIN_PAGE_SIZE = 10
#: The least time left worth a smaller page after a timeout.
MIN_RETRY_SECONDS = 0.05


def _smaller_on_timeout(
    page: Callable[[ListQuery, float | None], Flow[ListResult[M] | None]],
    query: ListQuery,
    largest: Sequence[int],
    timeout: float | None,
) -> Flow[ListResult[M] | None]:
    """One page; if it times out (a 504 or a client timeout, after the pipeline's own retries), once more
    with half the page size (not below :data:`MIN_PAGE_SIZE`), within what is left of ``timeout``.

    Big pages are what time out on slow providers (a report over too much data): asking for less
    is the remedy. The cursor is the same, so the smaller page starts where the big one would have,
    and its own next cursor continues from its last record: nothing is skipped or repeated. The
    caller's timeout still bounds the whole listing call: a page that used it all up is not retried.
    """
    deadline = deadline_after(timeout)
    try:
        return (yield from page(query, timeout))
    except ProviderTimeoutError:
        size = query.limit or (largest[-1] if largest else 0)
        smaller = max(size // 2, MIN_PAGE_SIZE)
        left = time_left(deadline)
        if smaller >= size or (left is not None and left < MIN_RETRY_SECONDS):
            raise
        return (yield from page(replace(query, limit=smaller), left))


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


def _redacted(error: UnifiedError, secrets: Sequence[str], connection_id: str) -> UnifiedError:
    """A plugin's per-item error, redacted like every error the pipeline builds (item bodies echo values)."""
    error.message = redact_text(error.message, secrets)
    error.args = (error.message,)
    if error.provider_message:
        error.provider_message = redact_text(error.provider_message, secrets)
    if error.hint:
        error.hint = redact_text(error.hint, secrets)
    error.details = redact_value(dict(error.details), secrets)
    error.connection_id = error.connection_id or connection_id
    return error


def _sequence(data: Any, method: str) -> Sequence[Any]:
    """The batch's inputs: a list or tuple (a lone mapping or a string is refused, not iterated)."""
    if isinstance(data, list | tuple):
        return data
    raise ValidationError(
        f"{method} takes a list of items, got {type(data).__name__}; nothing was sent",
        hint=f"pass {method}(data=[...])",
        details={"fields": ["data"]},
    )


def _for_item(error: UnifiedError, index: int) -> UnifiedError:
    """The item's error, naming its index."""
    error.details = {**error.details, "index": index}
    return error


#: Errors every later request of a batch would meet as well: the rest is not sent.
_STOPPING = frozenset({Category.AUTHENTICATION, Category.PERMISSION, Category.NOT_IMPLEMENTED})


def _stops_batch(error: UnifiedError) -> bool:
    return error.category in _STOPPING or isinstance(error, NotSupportedError | ConfigurationError)


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

    def create_many(
        self, *, connection_id: str, data: Sequence[Mapping[str, Any] | M], timeout: float | None = None
    ) -> BatchResult[M]:
        """Create many records: one :class:`~unified_sdk.BatchItem` per input, in order, each its record or error.

        Every item is validated before anything is sent; a bad item fails alone (a
        :class:`~unified_sdk.errors.ValidationError` with ``details["index"]``) and the others
        still go. Where the provider has a batch endpoint (HubSpot: 100 records a request,
        Salesforce: 200) the records go in batches, else one :meth:`create` call each; either
        way the requests are paced by the provider's rate-limit budget, and a rate limit met is
        waited out. ``timeout`` bounds each request (a batch, or one record's call). A failed
        request fails only the items it carried; credentials or scopes that fail stop the rest
        (each then carries that error, nothing more is sent).

        Example::

            result = client.crm.contacts.create_many(connection_id=cid, data=[{"email": "a@x.io"}, ...])
            created = result.records
            for item in result.failed:
                print(item.index, item.error)
        """
        return self._run(self._flows.create_many(connection_id, data, timeout))

    def update_many(
        self,
        *,
        connection_id: str,
        data: Sequence[tuple[str, Mapping[str, Any] | M]],
        timeout: float | None = None,
    ) -> BatchResult[M]:
        """Update many records, given as ``(id, fields)`` pairs; results and pacing as :meth:`create_many`.

        Each id is checked like :meth:`update`'s and each item's fields validated before anything
        is sent. Example::

            client.crm.deals.update_many(connection_id=cid, data=[("101", {"amount": 5}), ("102", {"stage": "won"})])
        """
        return self._run(self._flows.update_many(connection_id, data, timeout))


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

    async def create_many(
        self, *, connection_id: str, data: Sequence[Mapping[str, Any] | M], timeout: float | None = None
    ) -> BatchResult[M]:
        """Create many records; see :meth:`CrmObjects.create_many`."""
        return await self._run(self._flows.create_many(connection_id, data, timeout))

    async def update_many(
        self,
        *,
        connection_id: str,
        data: Sequence[tuple[str, Mapping[str, Any] | M]],
        timeout: float | None = None,
    ) -> BatchResult[M]:
        """Update many records given as ``(id, fields)`` pairs; see :meth:`CrmObjects.update_many`."""
        return await self._run(self._flows.update_many(connection_id, data, timeout))


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
