"""How Salesforce records travel, for every object adapter: SOQL keyset listing, sobjects CRUD,
sObject Collections batches and describe-driven field selection (custom fields come along as ``metadata``).

Records become unified models only through :meth:`~unified_sdk.provider.ObjectAdapter.unify` and writes
become fields only through :meth:`~unified_sdk.provider.ObjectAdapter.provider_fields` (each resource's
``to_unified`` / ``to_provider``, in ``crm/<resource>.py``).

Listing pages by keyset, never by query locator: each page is its own query,
``… WHERE <filters> AND Id > :last ORDER BY Id LIMIT n``. A query locator is
closed once its last batch is read, and Salesforce keeps only about ten open
per user (opening more drops the oldest), so a listing that came back to a
locator lost records or failed with ``INVALID_QUERY_LOCATOR`` whenever the
caller's page ended inside a batch or other listings ran for the same user.
A keyset page asks for at most one batch, so no locator is opened.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import re
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from unified_sdk import Category
from unified_sdk.errors import NotFoundError, PermissionDeniedError, ProviderError, UnifiedError, ValidationError
from unified_sdk.provider import (
    ListQuery,
    ListResult,
    ObjectAdapter,
    OperationContext,
    OperationFlow,
    Provider,
    ProviderRequest,
    build_path,
    check_id,
    convert,
    item_error,
)
from unified_sdk_salesforce import _soql
from unified_sdk_salesforce._errors import CODES, record_error
from unified_sdk_salesforce._provider import api_version

M = TypeVar("M")

#: Salesforce's documented bounds for ``Sforce-Query-Options: batchSize``; the largest page is one batch.
MIN_BATCH, MAX_BATCH = 200, 2000
#: The most records one sObject Collections request may carry (Salesforce's documented limit).
COLLECTION_SIZE = 200
#: How long a describe result (the object's visible fields) is reused.
DESCRIBE_TTL = 3600.0

RECORD_ID = r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?"
"""A Salesforce record id: 15 (case-sensitive) or 18 (case-safe) letters and digits."""
_RECORD_ID = re.compile(RECORD_ID)
_CURSOR_PREFIX = "k1."


# -- cursors ----------------------------------------------------------------------------------------
def encode_cursor(sobject: str, last_id: str, sort: tuple[str, bool, str] | None = None) -> str:
    """An opaque cursor: the listing continues after record ``last_id`` of ``sobject`` (in ``Id`` order),
    or, for a sorted listing, after ``sort`` = (field, descending, the last record's value of it)."""
    state: dict[str, Any] = {"o": sobject, "after": last_id}
    if sort is not None:
        state["s"] = list(sort)
    raw = json.dumps(state, separators=(",", ":")).encode()
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sobject: str) -> str:
    """The record id a cursor of ``sobject``'s listing continues after; ``ValidationError`` for anything else."""
    return decode_sorted_cursor(cursor, sobject)[0]


def decode_sorted_cursor(cursor: str, sobject: str) -> tuple[str, tuple[str, bool, str] | None]:
    """The record id a cursor continues after, and its sort (field, descending, last value) if sorted."""
    try:
        if not cursor.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        raw = cursor[len(_CURSOR_PREFIX) :]
        state = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
        last = state["after"]
        if state["o"] != sobject or not isinstance(last, str) or not _RECORD_ID.fullmatch(last):
            raise ValueError(cursor)
        sort = state.get("s")
        if sort is not None:
            field, desc, value = sort
            if field not in SORT_FIELDS.values() or not isinstance(desc, bool) or not isinstance(value, str):
                raise ValueError(cursor)
            sort = (field, desc, value)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ValidationError(
            f"not a cursor of a Salesforce {sobject} list",
            provider="salesforce",
            hint="pass the next_cursor of a previous page of the same list unchanged; nothing was sent",
            details={"fields": ["cursor"]},
        ) from None
    return last, sort


SORT_FIELDS: Mapping[str, str] = {"created_at": "CreatedDate", "updated_at": "LastModifiedDate", "name": "Name"}
"""Unified sort -> the (never empty) Salesforce field a listing is ordered by, then by ``Id``."""


class SalesforceObjectAdapter(ObjectAdapter[M]):
    """A unified resource over one sObject: transport only. Subclasses give the object, the fields to
    select and the two translation hooks (``to_unified``, ``to_provider``)."""

    id_pattern = RECORD_ID
    max_page_size = MAX_BATCH
    sobject: ClassVar[str]
    fields: ClassVar[tuple[str, ...]]
    """Standard fields to select when the org has them (describe decides)."""
    parent_fields: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    """Relationship fields to select when their reference field is visible: ``{"AccountId": ("Account.Name",)}``."""
    filters: ClassVar[Mapping[str, str]] = {"updated_after": "LastModifiedDate"}
    """Unified list filter -> the Salesforce field it compares: ``=`` for ids and emails, ``>`` for
    ``updated_after``/``created_after``, and ``LIKE '%text%'`` for ``query``."""
    sorts: ClassVar[frozenset[str]] = frozenset(SORT_FIELDS)
    also_written: ClassVar[Mapping[str, str]] = {}
    """Salesforce fields the hand-written part of ``to_provider`` sets -> the unified field each comes from
    (those of :attr:`mapping` it names itself); see :meth:`unified_field`."""

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider)
        self._describe: dict[tuple[str, str], tuple[float, tuple[str, ...]]] = {}
        self._lock = threading.Lock()

    @classmethod
    def unified_field(cls, name: str) -> str | None:
        """The unified field a write sets Salesforce field ``name`` from (to name a refused field in unified terms)."""
        return cls.mapping.unified_name(name) or cls.also_written.get(name)

    # -- fields
    def _select(self, ctx: OperationContext, version: str) -> OperationFlow[tuple[str, ...]]:
        key = (ctx.connection_id, version)
        with self._lock:
            cached = self._describe.get(key)
        if cached is not None and time.monotonic() - cached[0] < DESCRIBE_TTL:
            return cached[1]
        if not ctx.config.get("describe", True):
            chosen = (*self.fields, *(f for group in self.parent_fields.values() for f in group))
        else:
            path = f"/services/data/{version}/sobjects/{self.sobject}/describe"
            try:
                response = yield ProviderRequest("GET", path)
            except NotFoundError as exc:
                raise self._no_access(exc) from exc
            visible = [str(f["name"]) for f in response.json()["fields"]]
            present = set(visible)
            chosen = (
                *(f for f in self.fields if f in present),
                *(f for ref, group in self.parent_fields.items() if ref in present for f in group),
                *(f for f in visible if f.endswith("__c")),
            )
        with self._lock:
            self._describe[key] = (time.monotonic(), chosen)
        return chosen

    def _no_access(self, exc: NotFoundError) -> PermissionDeniedError:
        return PermissionDeniedError(
            f"Salesforce {self.sobject} is not available to the connected user",
            status=exc.status,
            provider="salesforce",
            connection_id=exc.connection_id,
            provider_code=exc.provider_code,
            provider_message=exc.provider_message,
            log_id=exc.log_id,
            hint=CODES["INVALID_TYPE"][1],
        )

    def _conditions(self, query: ListQuery) -> list[str]:
        conditions: list[str] = []
        if query.updated_after is not None:
            conditions.append(_soql.where("LastModifiedDate", ">", query.updated_after))
        for key, value in query.filters.items():
            name = self.filters[key]  # the core passes only declared filters
            try:
                if key == "query":
                    pattern = _soql.like_pattern(str(value))
                    conditions.append(f"{_soql.identifier(name)} LIKE '%{pattern[1:-1]}%'")
                elif key == "created_after":
                    conditions.append(_soql.where(name, ">", value))
                else:
                    conditions.append(_soql.where(name, "=", value))
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"cannot filter {self.sobject} by {key}: {exc}",
                    provider="salesforce",
                    hint=f"filter by {', '.join(sorted(self.filters)) or 'field API names'}; nothing was sent",
                    details={"fields": [key]},
                ) from None
        return conditions

    # -- operations
    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[M]]:
        """One page in ``Id`` order: a query of its own, continuing after the cursor's record."""
        after, sort = decode_sorted_cursor(query.cursor, self.sobject) if query.cursor else (None, None)
        if sort is None and query.sort is not None and after is None:
            sort = (SORT_FIELDS[query.sort], query.order == "desc", "")
        extra = [_checked_field(f) for f in query.fields or ()]
        limit = query.limit or MAX_BATCH
        # One record more than the page shows whether another page follows, as long as it fits in one batch.
        ask = limit + 1 if limit < MAX_BATCH else limit
        conditions = self._conditions(query)
        order_by: tuple[str, ...] = ("Id",)
        if sort is not None:
            field, desc, last_value = sort
            direction = " DESC" if desc else ""
            order_by = (field + direction, "Id" + direction)
            if after is not None:
                # Keyset on (field, Id): later values, or the same value and a later Id.
                beyond = "<" if desc else ">"
                value: Any = convert.timestamp(last_value) if field != "Name" else last_value
                same = _soql.where(field, "=", value)
                conditions.append(
                    f"({_soql.where(field, beyond, value)} OR ({same} AND {_soql.where('Id', beyond, after)}))"
                )
        elif after is not None:
            conditions.append(_soql.where("Id", ">", after))
        version = api_version(ctx.config)
        selected = yield from self._select(ctx, version)
        fields = ["Id", *selected, *extra, *([sort[0]] if sort is not None else [])]
        soql = _soql.select(self.sobject, fields, conditions=conditions, order_by=order_by, limit=ask)
        response = yield ProviderRequest(
            "GET",
            f"/services/data/{version}/query",
            params={"q": soql},
            headers={"Sforce-Query-Options": f"batchSize={min(max(ask, MIN_BATCH), MAX_BATCH)}"},
        )
        body = response.json()
        records: list[dict[str, Any]] = body["records"]
        page = records[:limit]
        # Salesforce may send a smaller first batch than asked for (done is then false): the rest of the
        # query is read by the next keyset page, never through the locator.
        more = len(records) > limit or (ask == limit == len(page)) or not body.get("done", True)
        next_cursor = None
        if more and page:
            last = page[-1]
            state = None if sort is None else (sort[0], sort[1], str(last.get(sort[0]) or ""))
            next_cursor = encode_cursor(self.sobject, str(last["Id"]), state)
        models = yield from self.unify(ctx, page)
        return ListResult(models, next_cursor)

    def _record_path(self, ctx: OperationContext, record_id: str | None = None) -> str:
        base = f"/services/data/{api_version(ctx.config)}/sobjects/{self.sobject}"
        if record_id is None:
            return base
        return base + build_path("/{id}", id=check_id(record_id, pattern=RECORD_ID))

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[M]:
        response = yield ProviderRequest("GET", self._record_path(ctx, id))
        return (yield from self.unify_one(ctx, response.json()))

    def create(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[M]:
        body = yield from self.provider_fields(ctx, data)
        response = yield ProviderRequest("POST", self._record_path(ctx), json=body)
        created = response.json()
        fetched = yield ProviderRequest("GET", self._record_path(ctx, str(created["id"])))
        return (yield from self.unify_one(ctx, fetched.json()))

    def update(self, ctx: OperationContext, id: str, data: Mapping[str, Any]) -> OperationFlow[M]:
        body = yield from self.provider_fields(ctx, data)
        path = self._record_path(ctx, id)
        if body:
            yield ProviderRequest("PATCH", path, json=body)
        fetched = yield ProviderRequest("GET", path)
        return (yield from self.unify_one(ctx, fetched.json()))

    def delete(self, ctx: OperationContext, id: str) -> OperationFlow[None]:
        yield ProviderRequest("DELETE", self._record_path(ctx, id))

    # -- batches: sObject Collections (API 42.0+), at most 200 records a request
    batch_size: ClassVar[int | None] = COLLECTION_SIZE

    def create_many(
        self, ctx: OperationContext, items: Sequence[Mapping[str, Any]]
    ) -> OperationFlow[builtins.list[M | UnifiedError]]:
        """``POST /composite/sobjects`` (``allOrNone: false``), then one query reads the created records back."""
        fields = yield from self.provider_fields_each(ctx, items)
        prepared = [self._collection_record(f) for f in fields]
        return (yield from self._save_many(ctx, "POST", prepared, [None] * len(items)))

    def update_many(
        self, ctx: OperationContext, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> OperationFlow[builtins.list[M | UnifiedError]]:
        """``PATCH /composite/sobjects`` (each record carries its ``id``), then one query reads them back."""
        fields = yield from self.provider_fields_each(ctx, [data for _, data in items])
        prepared = [self._collection_record(f, id) for f, (id, _) in zip(fields, items, strict=True)]
        return (yield from self._save_many(ctx, "PATCH", prepared, [id for id, _ in items]))

    def _collection_record(
        self, fields: dict[str, Any] | UnifiedError, id: str | None = None
    ) -> dict[str, Any] | UnifiedError:
        """One record of a collection request (its fields as for a single write), or why it cannot be sent."""
        if isinstance(fields, UnifiedError):
            return fields
        head: dict[str, Any] = {"attributes": {"type": self.sobject}}
        if id is not None:
            head["id"] = id
        return {**head, **fields}

    def _save_many(
        self,
        ctx: OperationContext,
        method: str,
        prepared: Sequence[dict[str, Any] | UnifiedError],
        ids: Sequence[str | None],
    ) -> OperationFlow[builtins.list[M | UnifiedError]]:
        results: builtins.list[M | UnifiedError | str] = [p if isinstance(p, UnifiedError) else "" for p in prepared]
        send = [i for i, p in enumerate(prepared) if not isinstance(p, UnifiedError)]
        if not send:
            return [r for r in results if isinstance(r, UnifiedError)]
        version = api_version(ctx.config)
        response = yield ProviderRequest(
            method,
            f"/services/data/{version}/composite/sobjects",
            json={"allOrNone": False, "records": [prepared[i] for i in send]},
        )
        answers = response.json()
        if not isinstance(answers, list) or len(answers) != len(send):
            raise ProviderError(
                f"Salesforce answered {len(answers) if isinstance(answers, list) else 'no'} results "
                f"for {len(send)} {self.sobject} records",
                provider="salesforce",
                hint="the records may have been written; check them before writing again",
            )
        for index, answer in zip(send, answers, strict=True):
            if isinstance(answer, Mapping) and answer.get("success") and (answer.get("id") or ids[index]):
                results[index] = str(answer.get("id") or ids[index])
            else:
                errors = answer.get("errors") if isinstance(answer, Mapping) else None
                results[index] = record_error(self.sobject, errors)
        written = [r for r in results if isinstance(r, str)]
        found: dict[str, M] = {}
        if written:
            selected = yield from self._select(ctx, version)
            soql = _soql.select(self.sobject, ["Id", *selected], conditions=[_soql.where("Id", "IN", written)])
            page = yield ProviderRequest("GET", f"/services/data/{version}/query", params={"q": soql})
            body = page.json()
            records: builtins.list[dict[str, Any]] = builtins.list(body["records"])
            while not body.get("done", True) and body.get("nextRecordsUrl"):
                page = yield ProviderRequest("GET", str(body["nextRecordsUrl"]))
                body = page.json()
                records.extend(body["records"])
            # 15-character ids are the case-sensitive prefix of the 18-character ones the query returns.
            models = yield from self.unify(ctx, records)
            found = {str(r["Id"])[:15]: model for r, model in zip(records, models, strict=True)}
        out: builtins.list[M | UnifiedError] = []
        for result in results:
            if not isinstance(result, str):
                out.append(result)
            elif (model := found.get(result[:15])) is not None:
                out.append(model)
            else:
                out.append(
                    item_error(
                        Category.NOT_FOUND,
                        f"Salesforce {self.sobject} {result} was saved but could not be read back",
                        hint="the record was written; it was deleted or hidden from the user right after",
                    )
                )
        return out


def _checked_field(name: str) -> str:
    try:
        return _soql.identifier(name)
    except ValueError:
        raise ValidationError(
            f"{name!r} is not a Salesforce field name",
            provider="salesforce",
            hint="fields= takes field API names such as Region__c or Account.Name; nothing was sent",
            details={"fields": [name]},
        ) from None
