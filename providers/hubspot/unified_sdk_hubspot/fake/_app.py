"""The fake's HTTP surface: HubSpot's CRM v3 routes, OAuth routes, auth, scopes and rate limits."""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from unified_sdk.testing import SlowPages
from unified_sdk_hubspot.fake._errors import (
    correlation_id,
    error_body,
    error_response,
    json_response,
    missing_scopes_body,
    rate_limit_body,
)
from unified_sdk_hubspot.fake._limits import DailyCounter, RollingWindow
from unified_sdk_hubspot.fake._oauth import HubSpotAuth
from unified_sdk_hubspot.fake._store import (
    ASSOCIATION_TYPES,
    DEFAULT_PROPERTIES,
    MODIFIED_PROPERTY,
    OBJECT_TYPES,
    TYPE_IDS,
    ConflictError,
    PropertyError,
    Record,
    Store,
    association_label,
    ms_from_value,
)

MAX_LIST_LIMIT = 100
MAX_SEARCH_LIMIT = 200
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
#: The most inputs one batch create/update takes.
MAX_BATCH_INPUTS = 100


class _Denied(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


class HubSpotApp:
    """State and handlers of one fake HubSpot account."""

    def __init__(
        self,
        store: Store,
        auth: HubSpotAuth,
        *,
        ten_second_limit: int,
        interval_ms: int,
        search_limit_per_second: int | None,
        daily_limit: int,
        search_ceiling: int,
        slow_pages: SlowPages | None = None,
        stall: Callable[[], float] = lambda: 5.0,
    ) -> None:
        self.store = store
        self.slow_pages = slow_pages or SlowPages()
        self.stall = stall
        self.auth = auth
        self.interval_ms = interval_ms
        self.ten_second_limit = ten_second_limit
        self.windows: dict[str, RollingWindow] = {}
        self.search_limit_per_second = search_limit_per_second
        self.search_windows: dict[str, RollingWindow] = {}
        self.daily = DailyCounter(daily_limit)
        self.search_ceiling = search_ceiling
        self.status_counts: Counter[int] = Counter()
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    # -- guards --------------------------------------------------------------------------------------
    def _window(self, table: dict[str, RollingWindow], key: str, limit: int, interval: float) -> RollingWindow:
        with self._lock:
            found = table.get(key)
            if found is None:
                found = table[key] = RollingWindow(limit, interval)
            return found

    def guard(self, request: Request, any_of: Sequence[str], *, search: bool = False) -> dict[str, str]:
        """Authenticate, check scopes and count the request; the rate-limit headers to send.

        Raises :class:`_Denied` with HubSpot's 401/403/429 response.
        """
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else ""
        kind, scopes, expired_ago = self.auth.authenticate(token)
        if kind == "unknown":
            raise _Denied(
                error_response(
                    401,
                    error_body(
                        401,
                        category="INVALID_AUTHENTICATION",
                        message="Authentication credentials not found. This API supports OAuth 2.0 authentication "
                        "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    ),
                )
            )
        if expired_ago is not None:
            raise _Denied(
                error_response(
                    401,
                    error_body(
                        401,
                        category="EXPIRED_AUTHENTICATION",
                        message=f"The OAuth token used to make this call expired {int(expired_ago)} second(s) ago.",
                    ),
                )
            )
        if any_of and not any(s in (scopes or ()) for s in any_of):
            raise _Denied(error_response(403, missing_scopes_body(any_of)))
        bucket = "private-app" if kind == "private" else f"app:{self.auth.client.client_id}"
        headers: dict[str, str] = {}
        if search and self.search_limit_per_second is not None:
            # UNCONFIRMED: HubSpot documents the search limit (per token, per second) but not
            # whether search responses carry headers for it; the fake sends the Secondly pair.
            window = self._window(self.search_windows, token, self.search_limit_per_second, 1.0)
            allowed, remaining = window.hit()
            headers["X-HubSpot-RateLimit-Secondly"] = str(self.search_limit_per_second)
            headers["X-HubSpot-RateLimit-Secondly-Remaining"] = str(remaining)
            if not allowed:
                raise _Denied(error_response(429, rate_limit_body("SECONDLY", "publicapi:crm-search"), headers))
        elif not search:
            window = self._window(self.windows, bucket, self.ten_second_limit, self.interval_ms / 1000)
            allowed, remaining = window.hit()
            headers["X-HubSpot-RateLimit-Interval-Milliseconds"] = str(self.interval_ms)
            headers["X-HubSpot-RateLimit-Max"] = str(self.ten_second_limit)
            headers["X-HubSpot-RateLimit-Remaining"] = str(remaining)
            if not allowed:
                raise _Denied(error_response(429, rate_limit_body("TEN_SECONDLY_ROLLING"), headers))
        if kind == "private":
            allowed, remaining = self.daily.hit()
            headers["X-HubSpot-RateLimit-Daily"] = str(self.daily.limit)
            headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(remaining)
            if not allowed:
                raise _Denied(error_response(429, rate_limit_body("DAILY"), headers))
        return headers

    # -- helpers -------------------------------------------------------------------------------------
    @staticmethod
    def _object_type(request: Request) -> str:
        raw = str(request.path_params["object_type"])
        object_type = TYPE_IDS.get(raw, raw)
        if object_type not in OBJECT_TYPES:
            raise _Denied(
                error_response(
                    400,
                    error_body(
                        400,
                        message=f"Unable to infer object type from: {raw}",
                    ),
                )
            )
        return object_type

    @staticmethod
    def _list_param(request: Request, name: str) -> list[str] | None:
        values = request.query_params.getlist(name)
        if not values:
            return None
        return [v.strip() for value in values for v in value.split(",") if v.strip()]

    @staticmethod
    def _limit(raw: Any, default: int, maximum: int) -> int:
        try:
            limit = int(raw) if raw is not None else default
        except (TypeError, ValueError):
            message = f"limit must be a number, got {raw!r}"
            raise _Denied(error_response(400, error_body(400, message=message))) from None
        if limit < 1 or limit > maximum:
            raise _Denied(
                error_response(
                    400,
                    error_body(
                        400,
                        message=f"limit must be between 1 and {maximum}; got {limit}",
                        errors=[{"message": f"must be less than or equal to {maximum}", "in": "limit"}],
                    ),
                )
            )
        return limit

    async def _serve_page(self, listing: str, size: int, headers: Mapping[str, str]) -> None:
        """Count one listing page; :class:`_Denied` with a gateway timeout when it is too big to serve in time."""
        answer = self.slow_pages.meet(listing, size)
        if answer is None:
            return
        if answer == "stall":
            await asyncio.sleep(self.stall())  # longer than the client waits
        if answer == "gateway_timeout_html":
            # What HubSpot's edge answers when the API behind it gave up: a page, not HubSpot's JSON.
            page = (
                b"<html><head><title>504 Gateway Time-out</title></head>"
                b"<body><h1>504 Gateway Time-out</h1></body></html>"
            )
            raise _Denied(Response(page, status_code=504, media_type="text/html"))
        raise _Denied(error_response(504, error_body(504, category="TIMEOUT", message="Gateway Timeout"), headers))

    def _record_json(
        self,
        object_type: str,
        rec: Record,
        properties: Sequence[str] | None,
        associations: Sequence[str] | None,
    ) -> dict[str, Any]:
        props = rec.properties
        names = properties if properties else DEFAULT_PROPERTIES[object_type]
        out = {name: props.get(name) for name in names if name in props or name in self.store.properties[object_type]}
        out["createdate"] = props.get("createdate")
        out["hs_object_id"] = props.get("hs_object_id")
        modified = MODIFIED_PROPERTY[object_type]
        out[modified] = props.get(modified)
        body: dict[str, Any] = {
            "id": str(rec.id),
            "properties": out,
            "createdAt": rec.created_at,
            "updatedAt": rec.updated_at,
            "archived": rec.archived,
        }
        if associations:
            assoc: dict[str, Any] = {}
            for to_type in associations:
                to_type = TYPE_IDS.get(to_type, to_type)
                ids = rec.associations.get(to_type)
                if ids:
                    label = association_label(object_type, to_type)
                    assoc[to_type] = {"results": [{"id": str(i), "type": label} for i in ids]}
            if assoc:
                body["associations"] = assoc
        return body

    async def _json_body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise _Denied(error_response(400, error_body(400, message="Invalid input JSON on line 1"))) from None
        if not isinstance(body, dict):
            raise _Denied(error_response(400, error_body(400, message="Invalid input: expected a JSON object")))
        return body

    # -- CRM objects -------------------------------------------------------------------------------------
    async def list_objects(self, request: Request) -> Response:
        object_type = self._object_type(request)
        headers = self.guard(request, [f"crm.objects.{object_type}.read"])
        limit = self._limit(request.query_params.get("limit"), 10, MAX_LIST_LIMIT)
        after_raw = request.query_params.get("after")
        after: int | None = None
        if after_raw:
            if not after_raw.isdigit():
                raise _Denied(error_response(400, error_body(400, message=f"Invalid paging cursor: {after_raw}")))
            after = int(after_raw)
        await self._serve_page(object_type, limit, headers)
        properties = self._list_param(request, "properties")
        associations = self._list_param(request, "associations")
        records, next_after = self.store.page(object_type, after, limit)
        body: dict[str, Any] = {
            "results": [self._record_json(object_type, r, properties, associations) for r in records]
        }
        if next_after is not None:
            path = request.url.path
            body["paging"] = {"next": {"after": str(next_after), "link": f"{path}?after={next_after}"}}
        return json_response(body, 200, headers)

    async def get_object(self, request: Request) -> Response:
        object_type = self._object_type(request)
        headers = self.guard(request, [f"crm.objects.{object_type}.read"])
        rec = self.store.get(object_type, request.path_params["record_id"])
        if rec is None:
            return error_response(404, error_body(404), headers)
        body = self._record_json(
            object_type, rec, self._list_param(request, "properties"), self._list_param(request, "associations")
        )
        return json_response(body, 200, headers)

    def _written(self, object_type: str, rec: Record) -> dict[str, Any]:
        body = self._record_json(object_type, rec, None, None)
        body["properties"] = {k: v for k, v in rec.properties.items() if v is not None}
        return body

    def _validate(self, object_type: str, properties: Any, existing: Record | None) -> dict[str, str | None]:
        if not isinstance(properties, dict):
            raise _Denied(
                error_response(
                    400,
                    error_body(
                        400,
                        message="Invalid input JSON: 'properties' must be an object",
                        errors=[{"message": "must be an object", "in": "properties"}],
                    ),
                )
            )
        try:
            return self.store.validate(object_type, properties, existing=existing)
        except PropertyError as exc:
            raise _Denied(error_response(400, exc.body(correlation_id()))) from None
        except ConflictError as exc:
            raise _Denied(error_response(409, error_body(409, category="CONFLICT", message=exc.message))) from None

    def _links(self, object_type: str, associations: Any) -> list[tuple[str, int]]:
        """The ``(type, id)`` pairs a create's ``associations`` name; :class:`_Denied` (400) for a bad one."""
        links: list[tuple[str, int]] = []
        for item in associations or []:
            to_id = str((item.get("to") or {}).get("id", ""))
            types = item.get("types") or []
            type_id = types[0].get("associationTypeId") if types else None
            valid = isinstance(type_id, int | str) and str(type_id).isdigit()
            pair = ASSOCIATION_TYPES.get(int(str(type_id))) if valid else None
            if pair is None or pair[0] != object_type:
                raise _Denied(
                    error_response(
                        400,
                        error_body(
                            400,
                            message=f"association type id {type_id} is not valid for {object_type}",
                            errors=[{"message": "invalid association type", "in": "associations"}],
                        ),
                    )
                )
            if self.store.get(pair[1], to_id) is None:
                raise _Denied(
                    error_response(
                        400,
                        error_body(
                            400,
                            message=f"No {pair[1]} with id {to_id} exists to associate with",
                            errors=[
                                {
                                    "message": "unknown association target",
                                    "in": "associations",
                                    "context": {"id": [to_id]},
                                }
                            ],
                        ),
                    )
                )
            links.append((pair[1], int(to_id)))
        return links

    async def create_object(self, request: Request) -> Response:
        object_type = self._object_type(request)
        headers = self.guard(request, [f"crm.objects.{object_type}.write"])
        body = await self._json_body(request)
        clean = self._validate(object_type, body.get("properties", {}), None)
        links = self._links(object_type, body.get("associations"))
        rec = self.store.insert(object_type, clean)
        for linked_type, linked_id in links:
            self.store.associate(object_type, rec.id, linked_type, linked_id)
        return json_response(self._written(object_type, rec), 201, headers)

    async def update_object(self, request: Request) -> Response:
        object_type = self._object_type(request)
        headers = self.guard(request, [f"crm.objects.{object_type}.write"])
        rec = self.store.get(object_type, request.path_params["record_id"])
        if rec is None:
            return error_response(404, error_body(404), headers)
        body = await self._json_body(request)
        clean = self._validate(object_type, body.get("properties", {}), rec)
        self.store.update(object_type, rec, clean)
        return json_response(self._written(object_type, rec), 200, headers)

    async def archive_object(self, request: Request) -> Response:
        object_type = self._object_type(request)
        headers = self.guard(request, [f"crm.objects.{object_type}.write"])
        rec = self.store.get(object_type, request.path_params["record_id"])
        if rec is not None:
            self.store.archive(object_type, rec)
        # HubSpot answers 204 whether or not the record still existed.
        return Response(status_code=204, headers=headers)

    # -- batch writes ------------------------------------------------------------------------------------
    async def _batch_inputs(self, request: Request) -> tuple[str, dict[str, str], list[dict[str, Any]]]:
        """The object type, rate-limit headers and ``inputs`` of a batch write (one request = one unit)."""
        object_type = self._object_type(request)
        headers = self.guard(request, [f"crm.objects.{object_type}.write"])
        inputs = (await self._json_body(request)).get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            message = "Invalid input JSON: 'inputs' must be a list of objects"
            raise _Denied(error_response(400, error_body(400, message=message), headers))
        if len(inputs) > MAX_BATCH_INPUTS:
            message = f"Batch input limit exceeded: at most {MAX_BATCH_INPUTS} inputs, got {len(inputs)}"
            raise _Denied(error_response(400, error_body(400, message=message), headers))
        return object_type, headers, inputs

    def _batch_answer(
        self, results: list[dict[str, Any]], errors: list[dict[str, Any]], ok_status: int, headers: dict[str, str]
    ) -> Response:
        # HubSpot does not promise results in input order; the fake shuffles them so clients correlate.
        self.store.random.shuffle(results)
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        return json_response(body, 207 if errors else ok_status, headers)

    @staticmethod
    def _input_error(denied: _Denied, trace: Any, **context: list[str]) -> dict[str, Any]:
        """One input's refusal as a batch ``errors[]`` entry, its context naming the input's trace id.

        UNCONFIRMED: that HubSpot echoes ``objectWriteTraceId`` in an error's context as a list.
        """
        refused = json.loads(bytes(denied.response.body))
        entry: dict[str, Any] = {
            "status": "error",
            "category": refused.get("category") or "VALIDATION_ERROR",
            "message": refused.get("message") or "Invalid input",
            "context": {**context, **({"objectWriteTraceId": [str(trace)]} if trace is not None else {})},
        }
        if refused.get("errors"):
            entry["errors"] = refused["errors"]
        return entry

    @staticmethod
    def _traced(result: dict[str, Any], trace: Any) -> dict[str, Any]:
        return {**result, "objectWriteTraceId": str(trace)} if trace is not None else result

    async def batch_create(self, request: Request) -> Response:
        """``POST /crm/v3/objects/{type}/batch/create``: up to 100 records; refused inputs come back as
        per-input errors (207) and the others are created.

        UNCONFIRMED: HubSpot may refuse a whole batch (400) for one invalid input; the fake follows the
        per-input (207) shape HubSpot documents for batch answers.
        """
        object_type, headers, inputs = await self._batch_inputs(request)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.store.lock:  # a duplicate email later in the same batch conflicts with the earlier one
            for item in inputs:
                trace = item.get("objectWriteTraceId")
                try:
                    clean = self._validate(object_type, item.get("properties", {}), None)
                    links = self._links(object_type, item.get("associations"))
                except _Denied as denied:
                    errors.append(self._input_error(denied, trace))
                    continue
                rec = self.store.insert(object_type, clean)
                for linked_type, linked_id in links:
                    self.store.associate(object_type, rec.id, linked_type, linked_id)
                results.append(self._traced(self._written(object_type, rec), trace))
        return self._batch_answer(results, errors, 201, headers)

    async def batch_update(self, request: Request) -> Response:
        """``POST /crm/v3/objects/{type}/batch/update``: up to 100 ``{id, properties}``; unknown ids and
        invalid values come back as per-input errors (207), a repeated id refuses the whole batch (400)."""
        object_type, headers, inputs = await self._batch_inputs(request)
        ids = [str(item.get("id", "")) for item in inputs]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            message = f"Duplicate IDs found in batch input: {repeated}. IDs must be unique"
            return error_response(400, error_body(400, message=message), headers)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.store.lock:
            for rid, item in zip(ids, inputs, strict=True):
                trace = item.get("objectWriteTraceId")
                rec = self.store.get(object_type, rid)
                try:
                    if rec is None:
                        raise _Denied(
                            error_response(404, error_body(404, message=f"No {object_type} with id {rid} exists"))
                        )
                    clean = self._validate(object_type, item.get("properties", {}), rec)
                except _Denied as denied:
                    errors.append(self._input_error(denied, trace, ids=[rid]))
                    continue
                self.store.update(object_type, rec, clean)
                results.append(self._traced(self._written(object_type, rec), trace))
        return self._batch_answer(results, errors, 200, headers)

    # -- search ------------------------------------------------------------------------------------------
    async def search(self, request: Request) -> Response:
        object_type = self._object_type(request)
        headers = self.guard(request, [f"crm.objects.{object_type}.read"], search=True)
        body = await self._json_body(request)
        limit = self._limit(body.get("limit"), 10, MAX_SEARCH_LIMIT)
        try:
            after = int(body.get("after") or 0)
        except (TypeError, ValueError):
            raise _Denied(
                error_response(400, error_body(400, message=f"Invalid after: {body.get('after')!r}"))
            ) from None
        if after >= self.search_ceiling:
            return error_response(
                400,
                error_body(
                    400,
                    message=f"The search API returns at most {self.search_ceiling} results for a query; "
                    f"after={after} is past that limit. Narrow the query with filters.",
                    errors=[{"message": f"must be less than {self.search_ceiling}", "in": "after"}],
                ),
                headers,
            )
        groups = body.get("filterGroups") or []
        total_filters = sum(len(g.get("filters") or []) for g in groups)
        if (
            len(groups) > MAX_FILTER_GROUPS
            or total_filters > MAX_FILTERS
            or any(len(g.get("filters") or []) > MAX_FILTERS_PER_GROUP for g in groups)
        ):
            return error_response(
                400,
                error_body(
                    400,
                    message=f"Too many filters: at most {MAX_FILTER_GROUPS} filter groups, "
                    f"{MAX_FILTERS_PER_GROUP} filters per group and {MAX_FILTERS} in all.",
                ),
                headers,
            )
        defs = self.store.properties[object_type]
        try:
            matchers = [[_matcher(f, defs) for f in g.get("filters") or []] for g in groups]
        except ValueError as exc:
            return error_response(400, error_body(400, message=str(exc)), headers)
        await self._serve_page(f"{object_type}/search", limit, headers)
        query = str(body.get("query") or "").lower()
        found = [
            r
            for r in self.store.live(object_type)
            if (not matchers or any(all(m(r) for m in group) for group in matchers))
            and (not query or any(query in (v or "").lower() for v in r.properties.values()))
        ]
        for sort in reversed(body.get("sorts") or []):
            if isinstance(sort, str):
                name, descending = sort.lstrip("-"), sort.startswith("-")
            else:
                name, descending = sort.get("propertyName", "hs_object_id"), sort.get("direction") == "DESCENDING"
            key = _sort_key(name, defs)
            found.sort(key=key, reverse=descending)
        total = len(found)
        end = min(after + limit, total, self.search_ceiling)
        results = [self._record_json(object_type, r, body.get("properties"), None) for r in found[after:end]]
        out: dict[str, Any] = {"total": total, "results": results}
        if end < min(total, self.search_ceiling):
            out["paging"] = {"next": {"after": str(end), "link": None}}
        return json_response(out, 200, headers)

    # -- associations (v4) ---------------------------------------------------------------------------------
    async def read_associations(self, request: Request) -> Response:
        """``POST /crm/v4/associations/{from}/{to}/batch/read``: the associated ids of up to 1,000 records."""
        from_type, to_type, headers = self._association_pair(request, "read")
        inputs = (await self._json_body(request)).get("inputs") or []
        if len(inputs) > 1000:
            return error_response(400, error_body(400, message="at most 1000 inputs per batch"), headers)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        type_id = next((k for k, v in ASSOCIATION_TYPES.items() if v == (from_type, to_type)), 0)
        for item in inputs:
            rid = str(item.get("id", ""))
            rec = self.store.get(from_type, rid)
            ids = rec.associations.get(to_type) if rec is not None else None
            if not ids:
                # UNCONFIRMED: HubSpot reports records without associations as per-input errors (207).
                errors.append(
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "subCategory": "NO_ASSOCIATIONS_FOUND",
                        "message": f"No {to_type} is associated with {from_type} {rid}.",
                        "context": {"fromObjectId": [rid]},
                    }
                )
                continue
            results.append(
                {
                    "from": {"id": rid},
                    "to": [
                        {
                            "toObjectId": i,
                            "associationTypes": [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}],
                        }
                        for i in ids
                    ],
                }
            )
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        return json_response(body, 207 if errors else 200, headers)

    def _association_pair(self, request: Request, scope: str) -> tuple[str, str, dict[str, str]]:
        from_type = TYPE_IDS.get(request.path_params["from_type"], request.path_params["from_type"])
        to_type = TYPE_IDS.get(request.path_params["to_type"], request.path_params["to_type"])
        if from_type not in OBJECT_TYPES or to_type not in OBJECT_TYPES:
            raise _Denied(error_response(400, error_body(400, message="Unknown object type in the path")))
        return from_type, to_type, self.guard(request, [f"crm.objects.{from_type}.{scope}"])

    async def associate_default(self, request: Request) -> Response:
        """``POST /crm/v4/associations/{from}/{to}/batch/associate/default``: link pairs with the default type.

        Pairs whose records do not exist come back as per-input errors (207) and the others are made.
        """
        from_type, to_type, headers = self._association_pair(request, "write")
        inputs = (await self._json_body(request)).get("inputs") or []
        type_id = next((k for k, v in ASSOCIATION_TYPES.items() if v == (from_type, to_type)), 0)
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in inputs:
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            if self.store.get(from_type, from_id) is None or self.store.get(to_type, to_id) is None:
                # UNCONFIRMED: the exact category HubSpot uses for an unknown record in this batch.
                errors.append(
                    {
                        "status": "error",
                        "category": "VALIDATION_ERROR",
                        "message": f"No {from_type} {from_id} or {to_type} {to_id} to associate.",
                        "context": {"fromObjectId": [from_id], "toObjectId": [to_id]},
                    }
                )
                continue
            self.store.associate(from_type, int(from_id), to_type, int(to_id))
            results.append(
                {
                    "from": {"id": from_id},
                    "to": {"id": to_id},
                    "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
                }
            )
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
        return json_response(body, 207 if errors else 200, headers)

    async def archive_associations(self, request: Request) -> Response:
        """``POST /crm/v4/associations/{from}/{to}/batch/archive``: remove every association of each pair."""
        from_type, to_type, headers = self._association_pair(request, "write")
        for item in (await self._json_body(request)).get("inputs") or []:
            from_id = str((item.get("from") or {}).get("id", ""))
            for to in item.get("to") or []:
                to_id = str((to or {}).get("id", ""))
                if from_id.isdigit() and to_id.isdigit():
                    self.store.dissociate(from_type, int(from_id), to_type, int(to_id))
        return Response(status_code=204, headers=headers)

    # -- owners, pipelines, account ---------------------------------------------------------------------------
    async def list_owners(self, request: Request) -> Response:
        headers = self.guard(request, ["crm.objects.owners.read"])
        limit = self._limit(request.query_params.get("limit"), 100, 500)
        archived = request.query_params.get("archived") == "true"
        email = request.query_params.get("email")
        owners = [o for o in self.store.owners if o.archived == archived and (email is None or o.email == email)]
        start = int(request.query_params.get("after") or 0)
        page = owners[start : start + limit]
        body: dict[str, Any] = {"results": [o.to_json() for o in page]}
        if start + limit < len(owners):
            body["paging"] = {"next": {"after": str(start + limit), "link": None}}
        return json_response(body, 200, headers)

    async def get_owner(self, request: Request) -> Response:
        headers = self.guard(request, ["crm.objects.owners.read"])
        for o in self.store.owners:
            if o.id == request.path_params["owner_id"]:
                return json_response(o.to_json(), 200, headers)
        return error_response(404, error_body(404), headers)

    async def list_pipelines(self, request: Request) -> Response:
        headers = self.guard(request, ["crm.objects.deals.read", "crm.schemas.deals.read"])
        return json_response({"results": self.store.pipelines}, 200, headers)

    async def get_pipeline(self, request: Request) -> Response:
        headers = self.guard(request, ["crm.objects.deals.read", "crm.schemas.deals.read"])
        for p in self.store.pipelines:
            if p["id"] == request.path_params["pipeline_id"]:
                return json_response(p, 200, headers)
        return error_response(404, error_body(404), headers)

    async def account_details(self, request: Request) -> Response:
        headers = self.guard(request, [])
        return json_response(
            {
                "portalId": self.auth.hub_id,
                "accountType": "STANDARD",
                "timeZone": "US/Eastern",
                "companyCurrency": "USD",
                "additionalCurrencies": ["EUR", "GBP"],
                "utcOffset": "-05:00",
                "utcOffsetMilliseconds": -18_000_000,
                "uiDomain": "app.hubspot.com",
                "dataHostingLocation": "na1",
            },
            200,
            headers,
        )

    # -- the app ----------------------------------------------------------------------------------------------
    def _wrap(self, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except _Denied as denied:
                response = denied.response
            with self._lock:
                self.status_counts[response.status_code] += 1
                self.requests.append((request.method, request.url.path))
            return response

        return endpoint

    def build(self) -> Starlette:
        w = self._wrap
        objects = "/crm/v3/objects/{object_type}"
        routes = [
            Route(objects, w(self.list_objects), methods=["GET"]),
            Route(objects, w(self.create_object), methods=["POST"]),
            Route(objects + "/search", w(self.search), methods=["POST"]),
            Route(objects + "/batch/create", w(self.batch_create), methods=["POST"]),
            Route(objects + "/batch/update", w(self.batch_update), methods=["POST"]),
            Route(objects + "/{record_id}", w(self.get_object), methods=["GET"]),
            Route(objects + "/{record_id}", w(self.update_object), methods=["PATCH"]),
            Route(objects + "/{record_id}", w(self.archive_object), methods=["DELETE"]),
            Route("/crm/v4/associations/{from_type}/{to_type}/batch/read", w(self.read_associations), methods=["POST"]),
            Route(
                "/crm/v4/associations/{from_type}/{to_type}/batch/associate/default",
                w(self.associate_default),
                methods=["POST"],
            ),
            Route(
                "/crm/v4/associations/{from_type}/{to_type}/batch/archive",
                w(self.archive_associations),
                methods=["POST"],
            ),
            Route("/crm/v3/owners", w(self.list_owners), methods=["GET"]),
            Route("/crm/v3/owners/", w(self.list_owners), methods=["GET"]),
            Route("/crm/v3/owners/{owner_id}", w(self.get_owner), methods=["GET"]),
            Route("/crm/v3/pipelines/deals", w(self.list_pipelines), methods=["GET"]),
            Route("/crm/v3/pipelines/deals/{pipeline_id}", w(self.get_pipeline), methods=["GET"]),
            Route("/account-info/v3/details", w(self.account_details), methods=["GET"]),
            *self.auth.routes(),
        ]
        return Starlette(routes=routes)


# -- search filters ----------------------------------------------------------------------------------------------


def _typed(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return None
    if kind in ("datetime", "date"):
        return ms_from_value(value)
    if kind == "number":
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    return str(value).lower()


def _sort_key(name: str, defs: Mapping[str, Any]) -> Callable[[Record], Any]:
    kind = defs[name].type if name in defs else "string"

    def key(rec: Record) -> Any:
        value = rec.id if name == "hs_object_id" else _typed(rec.properties.get(name), kind)
        return (value is None, value if value is not None else 0, rec.id)

    return key


_ASSOCIATED = {"contact": "contacts", "company": "companies", "deal": "deals"}
"""``associations.<type>`` search filters: records associated with a given record of that type."""


def _matcher(spec: Mapping[str, Any], defs: Mapping[str, Any]) -> Callable[[Record], bool]:
    name = spec.get("propertyName")
    op = str(spec.get("operator", "EQ")).upper()
    if not name:
        raise ValueError("Each filter needs a propertyName")
    if str(name).startswith("associations."):
        to_type = _ASSOCIATED.get(str(name).partition(".")[2])
        if to_type is None or op not in ("EQ", "IN"):
            raise ValueError(f"There was a problem with the request: cannot filter by {name} with {op}")
        raw = spec.get("values") if op == "IN" else [spec.get("value")]
        try:
            wanted = {int(str(v)) for v in raw or ()}
        except ValueError:
            raise ValueError(f"{name} takes record ids") from None
        return lambda r: bool(wanted.intersection(r.associations.get(to_type) or ()))
    if name not in defs:
        raise ValueError(f"There was a problem with the request: property {name!r} does not exist")
    kind = "number" if name == "hs_object_id" else defs[name].type

    def get(rec: Record) -> Any:
        return rec.id if name == "hs_object_id" else _typed(rec.properties.get(name), kind)

    if op == "HAS_PROPERTY":
        return lambda r: get(r) is not None
    if op == "NOT_HAS_PROPERTY":
        return lambda r: get(r) is None
    if op in ("IN", "NOT_IN"):
        values = {_typed(v, kind) for v in spec.get("values") or []}
        return (lambda r: get(r) in values) if op == "IN" else (lambda r: get(r) not in values)
    if op == "CONTAINS_TOKEN":
        token = str(spec.get("value", "")).lower().strip("*")
        return lambda r: token in str(rec_value if (rec_value := r.properties.get(name)) else "").lower()
    value = _typed(spec.get("value"), kind)
    if value is None and op not in ("EQ", "NEQ"):
        raise ValueError(f"Filter on {name} needs a value")
    if op == "BETWEEN":
        high = _typed(spec.get("highValue"), kind)
        return lambda r: (v := get(r)) is not None and value <= v <= high
    compare: dict[str, Callable[[Any], bool]] = {
        "EQ": lambda v: v == value,
        "NEQ": lambda v: v != value,
        "LT": lambda v: v is not None and v < value,
        "LTE": lambda v: v is not None and v <= value,
        "GT": lambda v: v is not None and v > value,
        "GTE": lambda v: v is not None and v >= value,
    }
    if op not in compare:
        raise ValueError(f"Unknown filter operator {op}")
    test = compare[op]
    return lambda r: test(get(r))
