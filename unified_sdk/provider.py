"""The provider plugin contract (everything a plugin needs is importable from here).

A provider plugin is an ordinary package registered under the
``unified_sdk.providers`` entry-point group; the entry point names a
:class:`Provider` subclass::

    [project.entry-points."unified_sdk.providers"]
    acme = "unified_sdk_acme:AcmeProvider"

Plugins are sans-I/O. They build :class:`ProviderRequest` objects and read
:class:`ProviderResponse` objects; the core sends, authenticates, retries,
refreshes, throttles, logs and updates health, for sync and async alike.

An operation is a generator that yields requests and receives responses,
in the style of ``httpx.Auth.auth_flow``::

    class DealsAdapter(CrmObjectAdapter[Deal]):
        def list(self, ctx, query):
            response = yield ProviderRequest("GET", "/v1/deals", params={"limit": query.limit})
            body = response.json()
            return ListResult([to_deal(r) for r in body["data"]], body.get("next_cursor"))

A failed request raises its :class:`~unified_sdk.errors.UnifiedError` inside
the generator at the ``yield``, so an adapter may catch it (e.g. treat a 404
as "nothing") or let it propagate.

Errors an adapter may raise itself: :class:`~unified_sdk.errors.NotSupportedError`
for a filter, field or option the provider cannot honour, and
:class:`~unified_sdk.errors.ValidationError` (``details={"fields": [...]}``) for
input the provider would refuse, both before the first ``yield`` so nothing is
sent; and any ``UnifiedError`` received at a ``yield``. A body that is not the
expected JSON (:meth:`ProviderResponse.json` raising) becomes a logged provider error.

Unified scopes (``unified_sdk._scopes``): ``list``/``get`` of ``crm.deals``,
``crm.contacts``, ``crm.companies``, ``crm.pipelines``, ``crm.users`` need
``crm_deal_read``, ``crm_contact_read``, ``crm_company_read``,
``crm_pipeline_read``, ``crm_user_read``; ``create``/``update``/``delete`` need
the ``_write`` twin (``crm_deal_write``, ``crm_contact_write``,
``crm_company_write``); ``webhook`` manages webhooks. Map each one an adapter
needs in :attr:`Provider.scopes`.

``unified_sdk.testing.conformance`` checks a plugin against its fake, and
``unified-sdk new-provider NAME`` writes a plugin that passes it.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from unified_sdk._outcome import Category, HealthSignal, Outcome, category_for_status
from unified_sdk._paths import build_path, check_id
from unified_sdk._retry import may_have_been_sent, parse_retry_after
from unified_sdk.errors import NotSupportedError, UnifiedError, ValidationError, error_class_for

if TYPE_CHECKING:
    import httpx2

    from unified_sdk import _convert as convert
    from unified_sdk._actions import ActionRule

__all__ = [
    "AuthType",
    "Category",
    "Credentials",
    "CrmObjectAdapter",
    "FieldMap",
    "HealthSignal",
    "ListQuery",
    "ListResult",
    "MappedField",
    "OAuth2Spec",
    "ObjectAdapter",
    "OperationContext",
    "OperationFlow",
    "Outcome",
    "Provider",
    "ProviderRequest",
    "ProviderResponse",
    "RateLimit",
    "ReadOnlyAdapter",
    "ResourceCapabilities",
    "ScopeMapping",
    "build_path",
    "category_for_status",
    "check_id",
    "convert",
    "item_error",
    "parse_retry_after",
]

T = TypeVar("T")
M = TypeVar("M")


class AuthType(StrEnum):
    API_KEY = "api_key"
    OAUTH2 = "oauth2"


@dataclass(slots=True)
class ProviderRequest:
    """A request a plugin wants sent.

    ``path`` is joined to the connection's API base URL, or used as is when
    it is an absolute URL on the API host (or one :meth:`Provider.allowed_hosts`
    names; any other host is refused before sending). ``idempotent`` defaults from the method (GET, HEAD,
    PUT, DELETE, OPTIONS are idempotent); set it when a provider differs, e.g.
    a POST search that is safe to repeat.
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    data: Mapping[str, Any] | None = None
    headers: Mapping[str, str] | None = None
    idempotent: bool | None = None
    authenticated: bool = True

    @property
    def is_idempotent(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method.upper() in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


class MalformedBodyError(ValueError):
    """A provider body that should be JSON is not."""


class ProviderResponse:
    """A provider's response, read in full, with its JSON parsed once on demand."""

    __slots__ = ("__dict__", "content", "elapsed", "headers", "request", "status")

    def __init__(
        self,
        status: int,
        headers: httpx2.Headers | Mapping[str, str],
        content: bytes,
        request: ProviderRequest | None = None,
        elapsed: float = 0.0,
    ) -> None:
        self.status = status
        self.headers = headers
        self.content = content
        self.request = request
        self.elapsed = elapsed

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    @property
    def content_type(self) -> str:
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    @cached_property
    def _parsed(self) -> tuple[bool, Any]:
        if not self.content:
            return True, None
        try:
            return True, json.loads(self.content)
        except ValueError:
            return False, None

    def json(self) -> Any:
        """The body as JSON; :class:`MalformedBodyError` when it is not."""
        ok, value = self._parsed
        if not ok:
            raise MalformedBodyError(
                f"expected a JSON body, got {self.content_type or 'no content type'} ({len(self.content)} bytes)"
            )
        return value

    def json_or_none(self) -> Any:
        """The body as JSON, or ``None`` when it is empty or not JSON (e.g. an HTML error page)."""
        ok, value = self._parsed
        return value if ok else None

    @property
    def looks_like_html(self) -> bool:
        head = self.content[:200].lstrip().lower()
        return self.content_type == "text/html" or head.startswith((b"<!doctype html", b"<html"))


@dataclass(slots=True, repr=False)
class Credentials:
    """A connection's secrets. Never printed: ``repr`` shows only which fields are set."""

    type: AuthType
    api_key: str | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    token_type: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Other token-response fields the plugin keeps (no secrets in here by convention)."""
    issued_at: datetime | None = None
    """When the access token was issued (so its lifetime is known); ``None``: unknown."""

    def __repr__(self) -> str:
        present = [n for n in ("api_key", "access_token", "refresh_token") if getattr(self, n)]
        return f"Credentials(type={self.type.value!r}, set={present}, expires_at={self.expires_at!r})"

    def secret_values(self) -> list[str]:
        """Every secret string held, for redaction."""
        return [v for v in (self.api_key, self.access_token, self.refresh_token) if v]


@dataclass(frozen=True, slots=True)
class ScopeMapping:
    """The provider scopes one unified scope needs: required, and optional extras."""

    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class OAuth2Spec:
    """A provider's OAuth 2 endpoints and quirks.

    Any endpoint can be overridden per integration or connection through its
    config keys ``authorize_url``, ``token_url``, ``revoke_url``, ``introspect_url``
    (and the ``issuer``).
    Each endpoint is resolved as: the connection's config key, then the integration's;
    else what :meth:`Provider.oauth_endpoints` derives from their config; else the URL
    here. Give the provider's public default hosts here, never placeholders; leave
    ``revoke_url``/``introspect_url`` ``None`` when only ``oauth_endpoints`` knows them.

    Revocation (RFC 7009, on ``client.connections.delete``) sends the refresh token and
    then the access token to ``revoke_url``. Introspection (RFC 7662) runs only after a
    code exchange whose token response has no ``scope``, and only when an
    ``introspect_url`` is known; it reads the granted scopes with
    :meth:`Provider.parse_introspection` (a failure is not an error: the asked scopes
    are assumed).
    """

    authorize_url: str
    token_url: str
    revoke_url: str | None = None
    introspect_url: str | None = None
    scope_separator: str = " "
    pkce: bool = True
    token_endpoint_auth_method: str = "client_secret_post"
    """How the app authenticates to the token, revocation and introspection endpoints alike:
    ``client_secret_post`` (``client_id`` and ``client_secret`` in the form body),
    ``client_secret_basic`` (``Authorization: Basic``, each part form-urlencoded first) or
    ``none`` (a public client: ``client_id`` only; use PKCE). Choose what the provider
    documents: strict servers answer any other with 401 ``invalid_client``. An integration
    may override it (``client.integrations.configure(..., token_endpoint_auth_method=...)``)."""
    optional_scope_param: str | None = None
    """Name of the query parameter for optional scopes (e.g. HubSpot ``optional_scope``)."""
    always_scopes: tuple[str, ...] = ()
    """Provider scopes asked for on every authorization (e.g. HubSpot ``oauth``)."""
    extra_authorize_params: Mapping[str, str] = field(default_factory=dict)
    expires_in_default: int | None = None
    """Lifetime to assume when the token response has no ``expires_in`` (None: unknown)."""
    refresh_margin: float | None = None
    """Refresh at most this many seconds before the access token expires, for providers that
    refuse earlier refreshes; the client's ``refresh_skew`` (default 60 s) applies when it is
    smaller. Either way the margin is never more than half the token's lifetime, so a short-lived
    (e.g. 45 s) token is not refreshed the moment it is issued. A 401 classified as
    ``authentication`` also triggers one single-flight refresh and one retry."""
    issuer: str | None = None
    """The authorization server's issuer identifier, for a provider that names itself in every
    authorization response (RFC 9207 ``iss``). When declared (here, by the config key ``issuer``
    or by :meth:`Provider.oauth_endpoints`), a callback whose ``iss`` is missing or different is
    refused with :class:`~unified_sdk.errors.AuthorizationError` before the code is exchanged."""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A provider's rate-limit budget read from response headers."""

    remaining: int | None = None
    limit: int | None = None
    reset_after: float | None = None
    """Seconds until the budget resets."""
    policy: str | None = None


@dataclass(frozen=True, slots=True)
class OperationContext:
    """What an adapter may know about the connection it serves."""

    connection_id: str
    provider: str
    config: Mapping[str, Any]
    operation: str
    idempotency_key: str | None = None
    """The caller's ``idempotency_key=`` for this write, if any. The core already sends it in the
    provider's :attr:`Provider.idempotency_header`; a provider that takes it elsewhere (a body field)
    reads it here."""


@dataclass(slots=True)
class ListQuery:
    """The unified list parameters an adapter translates."""

    limit: int | None = None
    cursor: str | None = None
    updated_after: datetime | None = None
    fields: Sequence[str] | None = None
    """Extra provider fields/properties the caller asks for."""
    filters: Mapping[str, Any] = field(default_factory=dict)
    """The caller's declared filters (``stage_id``, ``query``, …), each one the adapter declared in
    :attr:`ReadOnlyAdapter.filters`; ``updated_after`` has its own field. Values are strings, except
    ``created_after`` (an aware datetime)."""
    sort: str | None = None
    """A unified field to sort by (``created_at``, ``updated_at``, ``name``), one the adapter declared in
    :attr:`ReadOnlyAdapter.sorts`; ``None`` leaves the provider's order."""
    order: str = "asc"
    """``"asc"`` or ``"desc"``, for :attr:`sort`."""


@dataclass(frozen=True, slots=True)
class ResourceCapabilities:
    """What one provider supports for one unified resource (``capabilities["crm.deals"]``)."""

    operations: frozenset[str]
    """``list``, ``get``, ``create``, ``update``, ``delete``: those the adapter implements."""
    filters: frozenset[str]
    """The list filters it applies (``updated_after``, ``stage_id``, …); others raise ``NotSupportedError``."""
    sorts: frozenset[str]
    """The fields ``list(sort=...)`` accepts (``created_at``, ``updated_at``, ``name``)."""
    writable_fields: frozenset[str]
    """The unified fields ``create``/``update`` may set (empty for read-only resources)."""


@dataclass(slots=True)
class ListResult(Generic[M]):
    items: list[M]
    next_cursor: str | None = None


OperationFlow = Generator[ProviderRequest, ProviderResponse, T]
"""An operation: yields requests, receives their responses, returns the result."""


class ReadOnlyAdapter(Generic[M]):
    """Adapter for list-only resources (pipelines, users).

    Override the operations the provider supports; the core raises
    :class:`~unified_sdk.errors.NotSupportedError` for the others before
    sending anything.

    Record ids reach an adapter already checked: the core refuses, before the
    adapter runs, any ``id`` that is empty, longer than 255 characters, a dot
    segment, or holds ``/ \\ ? # %`` or control characters, and any that does
    not fully match :attr:`id_pattern`. Put ids into paths with
    :func:`build_path`, never by string formatting: it checks and
    percent-encodes each value as exactly one segment.
    """

    id_pattern: ClassVar[str | None] = None
    """A regular expression every record id of this resource fully matches (e.g. ``r"[0-9]+"``);
    ``None`` accepts any id that is safe as a path segment."""
    max_page_size: ClassVar[int] = 100
    """The largest ``limit`` one page of :meth:`list` may ask for (the provider's maximum page size).

    The core refuses a ``limit`` outside ``1..max_page_size`` with
    :class:`~unified_sdk.errors.ValidationError` before the adapter runs, so
    :meth:`list` never has to clamp it."""

    filters: ClassVar[Collection[str]] = frozenset()
    """The unified list filters this adapter applies (``updated_after``, ``stage_id``, ``query``, …).

    The core refuses any other filter with :class:`~unified_sdk.errors.NotSupportedError` before the
    adapter runs, so :meth:`list` never has to check; it must apply every one it declares, on the
    provider's side (never by dropping records client-side)."""
    sorts: ClassVar[Collection[str]] = frozenset()
    """The unified fields this adapter sorts by (``created_at``, ``updated_at``, ``name``), both orders."""
    writable_fields: ClassVar[Collection[str] | None] = None
    """The unified fields ``create``/``update`` can write; ``None``: every field of the unified model's write form.

    The core refuses a write naming another field with ``NotSupportedError`` before the adapter runs."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider

    def page_size(self, query: ListQuery) -> int:
        """How many records one page of ``query`` asks for when ``query.limit`` is ``None``.

        Default: :attr:`max_page_size`. Override it when :meth:`list` picks another size for some
        listings (e.g. a search endpoint with a larger page than the list endpoint's): when a page
        times out, the core asks again for half of this many.
        """
        return self.max_page_size

    def list(self, ctx: OperationContext, query: ListQuery) -> OperationFlow[ListResult[M]]:
        """One page: yield the provider request(s), return a :class:`ListResult` of unified models.

        ``query.limit`` is already within ``1..max_page_size`` (or ``None``: choose the
        page size), ``query.cursor`` is the ``next_cursor`` a previous page returned.
        Return ``next_cursor=None`` on the last page. ``query.filters`` and ``query.sort`` hold
        only what :attr:`filters` and :attr:`sorts` declare (``updated_after`` counts as a filter);
        raise ``NotSupportedError`` for ``fields`` the provider cannot honour.
        """
        raise NotImplementedError

    def get(self, ctx: OperationContext, id: str) -> OperationFlow[M]:
        """One record by ``id`` (already checked against :attr:`id_pattern`): return its unified model.

        A missing record's 404 reaches the ``yield`` as ``NotFoundError``; let it propagate.
        """
        raise NotImplementedError

    @classmethod
    def supports(cls, operation: str) -> bool:
        """Whether this adapter overrides ``operation`` (``list``, ``get``, …)."""
        mine = getattr(cls, operation, None)
        for base in (ReadOnlyAdapter, CrmObjectAdapter):
            if mine is getattr(base, operation, None):
                return False
        return mine is not None


class CrmObjectAdapter(ReadOnlyAdapter[M]):
    """Adapter for a CRM object with full CRUD (deals, contacts, companies).

    ``create``/``update`` receive the unified fields the caller set, already
    validated, as a dict (``exclude_unset``), so adapters send only those.
    """

    def create(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[M]:
        """Create a record from the unified fields set in ``data``; return the created record's model."""
        raise NotImplementedError

    def update(self, ctx: OperationContext, id: str, data: Mapping[str, Any]) -> OperationFlow[M]:
        """Change only the unified fields in ``data`` of record ``id``; return the updated model."""
        raise NotImplementedError

    def delete(self, ctx: OperationContext, id: str) -> OperationFlow[None]:
        """Delete record ``id``; return ``None``."""
        raise NotImplementedError

    batch_size: ClassVar[int | None] = None
    """The most records one :meth:`create_many` / :meth:`update_many` request may carry (the
    provider's batch limit, e.g. HubSpot 100, Salesforce 200); ``None``: no batch endpoint, and the
    core writes a batch one :meth:`create` / :meth:`update` call per record, paced by the throttle."""

    def create_many(
        self, ctx: OperationContext, items: Sequence[Mapping[str, Any]]
    ) -> OperationFlow[list[M | UnifiedError]]:
        """Create up to :attr:`batch_size` records (each validated like :meth:`create`'s ``data``) in one
        request; return, for each input in order, its created model or the :class:`UnifiedError` the
        provider gave for it (build it with :func:`item_error`). A failed request reaches the ``yield``
        as its error; let it propagate (the core marks every item of the request with it)."""
        raise NotImplementedError

    def update_many(
        self, ctx: OperationContext, items: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> OperationFlow[list[M | UnifiedError]]:
        """Update up to :attr:`batch_size` records given as ``(id, data)`` pairs (ids already checked);
        return per input, in order, the updated model or its error, as :meth:`create_many` does."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class MappedField:
    """One unified field that is one provider field: ``MappedField("amount", "Amount", read=convert.decimal)``."""

    unified: str
    """The unified model's field name."""
    provider: str
    """The provider's field (property, column) name."""
    read: Callable[[Any], Any] | None = None
    """Provider value -> unified value (``None``: the :class:`FieldMap`'s ``default_read``, else as is)."""
    write: Callable[[Any], Any] | None = None
    """Unified value -> provider value, for values that are not ``None`` (``None`` is written as ``None``,
    which clears the field); ``None``: as is."""
    writable: bool = True
    """Whether a write may set it (``False`` for fields the provider computes, e.g. a full name)."""


class FieldMap:
    """A resource's one-to-one fields as data: which provider field each unified field is, and how values convert.

    The fields that are not one-to-one (a stage with its label, an address spread over several fields,
    lists a provider stores as one value) stay in the adapter's :meth:`ObjectAdapter.to_unified` /
    :meth:`ObjectAdapter.to_provider`, around the map::

        FIELDS = FieldMap(
            MappedField("name", "dealname"),
            MappedField("amount", "amount", read=convert.decimal, write=convert.decimal_text),
            default_read=convert.text,
        )
        FIELDS.read(properties)        # {"name": ..., "amount": Decimal(...)}
        FIELDS.write({"amount": 5})    # {"amount": "5"}

    A bare ``(unified, provider)`` pair is a field read and written as is.
    """

    __slots__ = ("_by_provider", "_by_unified", "_reads", "fields", "provider_names", "writable")

    def __init__(
        self, *fields: MappedField | tuple[str, str], default_read: Callable[[Any], Any] | None = None
    ) -> None:
        self.fields = tuple(f if isinstance(f, MappedField) else MappedField(*f) for f in fields)
        self.provider_names: tuple[str, ...] = tuple(dict.fromkeys(f.provider for f in self.fields))
        """Every provider field the map reads, once each, in order (to select or request them)."""
        self.writable: frozenset[str] = frozenset(f.unified for f in self.fields if f.writable)
        """The unified fields :meth:`write` sets."""
        self._reads = tuple((f.unified, f.provider, f.read or default_read) for f in self.fields)
        self._by_unified = {f.unified: f for f in self.fields if f.writable}
        self._by_provider = {f.provider: f.unified for f in self.fields}

    def read(self, source: Mapping[str, Any]) -> dict[str, Any]:
        """The unified values of a provider record's fields (a missing field reads as ``None``)."""
        get = source.get
        return {u: (convert(get(p)) if convert is not None else get(p)) for u, p, convert in self._reads}

    def write(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The provider fields of the writable unified fields present in ``data``; others are left out."""
        out: dict[str, Any] = {}
        for name, value in data.items():
            found = self._by_unified.get(name)
            if found is not None:
                out[found.provider] = value if value is None or found.write is None else found.write(value)
        return out

    def provider_name(self, unified: str) -> str | None:
        """The provider field of unified field ``unified`` (``None`` when the map has none)."""
        found = self._by_unified.get(unified)
        return found.provider if found is not None else None

    def unified_name(self, provider: str) -> str | None:
        """The unified field provider field ``provider`` holds (``None`` when the map has none)."""
        return self._by_provider.get(provider)


class ObjectAdapter(CrmObjectAdapter[M]):
    """The base of every CRM object adapter (deals, contacts, companies): one pair of translation hooks.

    A plugin has one subclass per provider API shape that says how records travel (paths, bodies,
    paging: :meth:`list`, :meth:`get`, :meth:`create`, …), and one subclass of that per resource which
    only translates, with the same two hooks on every provider:

    - :meth:`to_unified`: one provider record as the unified model;
    - :meth:`to_provider`: the unified fields a write sets as the provider's write fields.

    Both are pure (no requests), so they are cheap to test for every value. What translating needs
    from the provider besides the record comes from two optional flows the transport calls:
    :meth:`lookups` (e.g. stage labels for a page of deals) and :meth:`resolve` (e.g. a stage label
    written as ``stage=`` -> its ``stage_id``). The transport reaches them through :meth:`unify`
    and :meth:`provider_fields`. One-to-one fields are written as data in a :class:`FieldMap`
    (:attr:`mapping`), values converted with ``unified_sdk.provider.convert``.
    """

    mapping: ClassVar[FieldMap] = FieldMap()
    """The resource's one-to-one fields (see :class:`FieldMap`)."""

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> M:
        """One provider record as the unified model (``raw=record``); ``lookups`` is what :meth:`lookups` returned."""
        raise NotImplementedError

    def to_provider(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The unified fields in ``data`` (only those the caller set; nested values are dicts) as provider fields.

        Raise :class:`~unified_sdk.errors.ValidationError` (``details={"fields": [...]}``) for values
        the provider cannot store; nothing has been sent yet."""
        raise NotImplementedError

    def lookups(self, ctx: OperationContext, records: Sequence[Mapping[str, Any]]) -> OperationFlow[Any]:
        """Read what :meth:`to_unified` needs for ``records`` besides themselves (default: nothing, ``None``)."""
        return None
        yield  # pragma: no cover - makes this a generator

    def resolve(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[Mapping[str, Any]]:
        """Turn what a caller may write by name into what :meth:`to_provider` writes (e.g. ``stage`` -> ``stage_id``),
        reading the provider if needed. Default: ``data`` unchanged."""
        return data
        yield  # pragma: no cover - makes this a generator

    # -- what the transport calls ------------------------------------------------------------------------
    def unify(self, ctx: OperationContext, records: Sequence[Mapping[str, Any]]) -> OperationFlow[list[M]]:
        """Provider records as unified models: :meth:`lookups` once, then :meth:`to_unified` per record."""
        found = yield from self.lookups(ctx, records)
        to_unified = self.to_unified
        return [to_unified(record, found) for record in records]

    def unify_one(self, ctx: OperationContext, record: Mapping[str, Any]) -> OperationFlow[M]:
        """One provider record as its unified model, as :meth:`unify` does for a page."""
        (model,) = yield from self.unify(ctx, [record])
        return model

    def provider_fields(self, ctx: OperationContext, data: Mapping[str, Any]) -> OperationFlow[dict[str, Any]]:
        """A write's provider fields: :meth:`resolve`, then :meth:`to_provider`."""
        resolved = yield from self.resolve(ctx, data)
        return self.to_provider(resolved)

    def provider_fields_each(
        self, ctx: OperationContext, items: Sequence[Mapping[str, Any]]
    ) -> OperationFlow[list[dict[str, Any] | UnifiedError]]:
        """Each batch item's provider fields, as :meth:`provider_fields`; an item it refuses (``ValidationError``,
        ``NotSupportedError``) gets its error instead, so one bad item never stops the batch."""
        out: list[dict[str, Any] | UnifiedError] = []
        for data in items:
            try:
                out.append((yield from self.provider_fields(ctx, data)))
            except (ValidationError, NotSupportedError) as exc:
                if exc.status is not None:  # the provider refused a lookup: not this item's fault
                    raise
                out.append(exc)
        return out


class Provider(ABC):
    """Base class of every provider plugin. Subclass it and register it as an entry point.

    Class attributes give identity, auth, scopes and adapters; methods
    translate auth, errors and rate limits. Everything here is sans-I/O.
    """

    name: ClassVar[str]
    """Short, user-visible id; also the entry-point name (e.g. ``hubspot``)."""
    display_name: ClassVar[str]
    categories: ClassVar[frozenset[str]] = frozenset({"crm"})
    version: ClassVar[str] = "0.0.0"
    auth_types: ClassVar[frozenset[AuthType]] = frozenset({AuthType.API_KEY})
    base_url: ClassVar[str]
    """Default API base URL; a connection's ``config["base_url"]`` overrides it."""
    oauth: ClassVar[OAuth2Spec | None] = None
    scopes: ClassVar[Mapping[str, ScopeMapping]] = {}
    """Unified scope -> the provider scopes it needs."""
    adapters: ClassVar[Mapping[str, str]] = {}
    """Unified resource (``crm.deals``) -> ``"module:Class"`` of its adapter, imported on first use."""
    response_actions: ClassVar[Mapping[str, ActionRule]] = {}
    """Provider defaults over the core's action table, keyed like it (``"429"``, ``"rate_limited"``)."""
    idempotency_header: ClassVar[str | None] = None
    """Header the provider reads an idempotency key from; when set, the core adds a
    key to each POST/PATCH (reused across its retries) and may then retry them, and
    callers may pass their own (``create(..., idempotency_key=...)``). When ``None``,
    a caller's key is refused with :class:`~unified_sdk.errors.NotSupportedError`."""
    docs_url: ClassVar[str | None] = None

    def __init__(self) -> None:
        self._adapters: dict[str, Any] = {}

    # -- auth ---------------------------------------------------------------------
    def auth_headers(self, credentials: Credentials) -> Mapping[str, str]:
        """Headers that authenticate a request. Default: ``Authorization: Bearer``."""
        token = credentials.access_token or credentials.api_key
        return {"Authorization": f"Bearer {token}"} if token else {}

    def oauth_endpoints(self, config: Mapping[str, Any]) -> Mapping[str, str]:
        """OAuth endpoints derived from an integration's or connection's config.

        Explicit ``authorize_url``/``token_url``/``revoke_url``/``introspect_url``
        config keys always win; this is for providers whose endpoints follow from
        another setting (a login host, a region, the API base URL). Default: none.
        """
        return {}

    def base_url_from_token(self, token: Mapping[str, Any]) -> str | None:
        """The per-connection API base URL a token response carries (e.g. Salesforce ``instance_url``)."""
        return None

    def resolve_base_url(self, config: Mapping[str, Any]) -> str:
        return str(config.get("base_url") or self.base_url).rstrip("/")

    def allowed_hosts(self, config: Mapping[str, Any]) -> Collection[str]:
        """Hosts besides the API base URL's that a connection's requests may name in absolute URLs.

        A connection's credentials go with every request, so the core refuses an
        absolute URL (an adapter's or ``client.passthrough``'s) whose scheme, host
        and port are not those of :meth:`resolve_base_url` or of one of these.
        Each entry is a URL (``https://files.example.com``) or a bare host (HTTPS
        on its default port). Default: none; a provider whose API spans hosts
        (a files or upload host) derives them from ``config`` here.
        """
        return ()

    # -- errors and limits --------------------------------------------------------
    def classify(self, response: ProviderResponse) -> Outcome:
        """Translate a response into an :class:`Outcome`.

        Receives every API response (success or not, read in full). Return
        ``Outcome.success(status)`` for a success, else
        ``Outcome.failure(category, status=..., provider_code=..., provider_message=...,
        retry_after=..., request_id=..., hint=..., details=..., health=None)``; ``health``
        defaults to the category's (authentication, permission: unhealthy;
        rate_limited, not_implemented: healthy; every other: neutral). Every status
        >= 400 must be a failure. Never put a credential into the message, hint or details.

        The default reads the status and ``Retry-After``; plugins override it
        to read their error bodies and call ``super().classify`` as a fallback.
        """
        category = category_for_status(response.status)
        if category is None:
            return Outcome.success(response.status)
        hint = None
        if response.looks_like_html:
            hint = "the provider answered with an HTML error page (an outage or a proxy in between)"
        return Outcome.failure(
            category,
            status=response.status,
            retry_after=parse_retry_after(response.headers),
            provider_message=_short(response.text) if not response.looks_like_html else None,
            hint=hint,
        )

    def classify_transport_error(self, error: Exception) -> Outcome:
        """Translate a transport failure (timeout, connection error) into an :class:`Outcome`.

        Whether the request may have reached the provider is the core's call
        (``details["sent"]`` is overwritten with it); plugins may add other details.
        """
        import httpx2

        if isinstance(error, httpx2.TimeoutException):
            return Outcome.failure(
                Category.TIMEOUT,
                health=HealthSignal.NEUTRAL,
                provider_message=f"{type(error).__name__}: the provider did not answer in time",
                details={"sent": may_have_been_sent(error)},
            )
        return Outcome.failure(
            Category.NETWORK,
            provider_message=f"{type(error).__name__}: {error}" if str(error) else type(error).__name__,
            details={"sent": may_have_been_sent(error)},
        )

    def classify_token_error(self, response: ProviderResponse) -> Outcome:
        """Translate a failed token-endpoint response (RFC 6749 section 5.2 by default).

        ``invalid_grant`` means the refresh token or code is dead: re-authorize.
        Plugins whose token errors differ (e.g. HubSpot ``BAD_REFRESH_TOKEN``) override it.
        """
        body = response.json_or_none()
        body = body if isinstance(body, dict) else {}
        error = body.get("error")
        description = body.get("error_description") or body.get("message")
        hints = {
            "invalid_grant": "the grant was revoked or expired: re-authorize the connection",
            "invalid_client": "check the integration's client_id, client_secret and token_endpoint_auth_method",
            "unauthorized_client": "the OAuth app is not allowed this grant type; check its settings",
            "invalid_scope": "ask only for scopes the app is configured for",
        }
        # An outage, a throttle or a proxy's page says nothing about the grant: transient, health neutral.
        transient = {429: Category.RATE_LIMITED, 408: Category.TIMEOUT, 504: Category.TIMEOUT}
        if response.status >= 500 or response.status in transient or (response.looks_like_html and not error):
            return Outcome.failure(
                transient.get(response.status, Category.PROVIDER_ERROR),
                health=HealthSignal.NEUTRAL,
                status=response.status,
                retry_after=parse_retry_after(response.headers),
                provider_code=str(error) if isinstance(error, str) else None,
                provider_message=str(description) if description else None,
                hint="the provider's token endpoint failed or is throttling; retry later",
            )
        return Outcome.failure(
            Category.AUTHENTICATION,
            status=response.status,
            provider_code=str(error) if error else None,
            provider_message=str(description) if description else None,
            hint=hints.get(str(error), "re-authorize the connection"),
        )

    def introspection_request(
        self, url: str, credentials: Credentials, client_id: str, client_secret: str | None
    ) -> ProviderRequest:
        """The token-introspection request (RFC 7662 by default) used to learn granted scopes.

        Sans-I/O like everything a plugin does: return a :class:`ProviderRequest` whose ``path``
        is the absolute introspection ``url``; the core sends it through the pipeline. It runs only
        after a code exchange whose token response has no ``scope``. The core adds the client
        authentication the integration uses (``token_endpoint_auth_method``) unless the request
        already carries some (an ``Authorization`` header or ``client_id`` in the form). Most
        plugins keep this default.
        """
        data = {"token": credentials.access_token or "", "token_type_hint": "access_token"}
        return ProviderRequest("POST", url, data=data, authenticated=False)

    def parse_introspection(self, response: ProviderResponse) -> list[str] | None:
        """Provider scopes from an introspection response (``scope`` string or ``scopes`` list)."""
        body = response.json_or_none()
        if not isinstance(body, dict):
            return None
        if isinstance(body.get("scopes"), list):
            return [str(s) for s in body["scopes"]]
        scope = body.get("scope")
        if isinstance(scope, str):
            return scope.split()
        return None

    def parse_rate_limit(self, headers: Mapping[str, str]) -> RateLimit | None:
        """Read the remaining budget from headers; ``None`` when the provider sends none."""
        return None

    # -- health and adapters ------------------------------------------------------
    @abstractmethod
    def health_check(self, ctx: OperationContext) -> OperationFlow[None]:
        """The cheapest call that proves the credentials work.

        Yield one authenticated request (needing no scope if the provider allows) and return
        ``None``; a failure reaches the ``yield`` as its unified error and fails the check. It
        runs after every code exchange and on ``client.connections.check``.
        """

    def adapter_loaded(self, resource: str) -> bool:
        """Whether ``resource``'s adapter is imported already (then :meth:`adapter` does no import)."""
        return resource in self._adapters

    def adapter(self, resource: str) -> Any | None:
        """The adapter instance for ``resource`` (``crm.deals``), imported lazily; ``None`` if unsupported."""
        found = self._adapters.get(resource)
        if found is None:
            target = self.adapters.get(resource)
            if target is None:
                return None
            module, _, attr = target.partition(":")
            found = getattr(import_module(module), attr)(self)
            self._adapters[resource] = found
        return found


def item_error(
    category: Category,
    message: str,
    *,
    status: int | None = None,
    provider_code: str | None = None,
    provider_message: str | None = None,
    details: Mapping[str, Any] | None = None,
    hint: str | None = None,
) -> UnifiedError:
    """The error of one item of a batch answer (``create_many`` / ``update_many``), of the category's class.

    The core adds the provider and connection; a ``validation`` item error should name its
    ``details={"fields": [...]}`` where the provider says which.
    """
    return error_class_for(category)(
        message,
        category=category,
        status=status,
        provider_code=provider_code,
        provider_message=provider_message,
        details=details,
        hint=hint,
    )


def _short(text: str, limit: int = 300) -> str | None:
    text = text.strip()
    if not text:
        return None
    return text if len(text) <= limit else text[: limit - 1] + "…"


def __getattr__(name: str) -> Any:
    # ``convert`` needs the unified models (pydantic): imported when a plugin first asks for it.
    if name == "convert":
        from unified_sdk import _convert

        return _convert
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
