"""The fake's REST API (``/services/data``) as starlette routes."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from unified_sdk_salesforce.fake._org import ApiError, MultipleChoices, Org, SlowPage, not_found
from unified_sdk_salesforce.fake._soql import soql_now

if TYPE_CHECKING:
    from unified_sdk.testing import AuthorizationServer

#: API versions the fake serves (the real service keeps old versions for years).
MIN_VERSION, MAX_VERSION = 20, 66
#: sObject Collections (``/composite/sobjects``) exist from API version 42.0 on.
COLLECTIONS_SINCE = 42
_VERSION = re.compile(r"^v(\d{2})\.0$")
_BATCH = re.compile(r"batchsize\s*=\s*(\d+)", re.IGNORECASE)

Handler = Callable[[Request], Awaitable[Response]]


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")).encode(),
        status_code=status,
        media_type="application/json;charset=UTF-8",
        headers=headers,
    )


def error_response(error: ApiError, limit_info: str) -> Response:
    return _json(error.body(), error.status, {"Sforce-Limit-Info": limit_info})


class Api:
    """Route handlers bound to one org and its authorization server."""

    def __init__(
        self,
        org: Org,
        auth: AuthorizationServer,
        user_active: Callable[[str], bool],
        stall: Callable[[], float] = lambda: 5.0,
    ) -> None:
        self.org = org
        self.auth = auth
        self.user_active = user_active
        self.stall = stall

    def routes(self) -> list[Route]:
        base = "/services/data/{version}"
        return [
            Route("/services/data", self.versions, methods=["GET"]),
            Route("/services/data/", self.versions, methods=["GET"]),
            Route(base, self._api(self.resources), methods=["GET"]),
            Route(base + "/", self._api(self.resources), methods=["GET"]),
            Route(base + "/limits", self._api(self.limits), methods=["GET"]),
            Route(base + "/query", self._api(self.query), methods=["GET"]),
            Route(base + "/query/", self._api(self.query), methods=["GET"]),
            Route(base + "/queryAll", self._api(self.query), methods=["GET"]),
            Route(base + "/query/{locator}", self._api(self.query_more), methods=["GET"]),
            Route(base + "/queryAll/{locator}", self._api(self.query_more), methods=["GET"]),
            Route(base + "/composite/sobjects", self._api(self.collection), methods=["POST", "PATCH"]),
            Route(base + "/sobjects/{sobject}", self._api(self.create), methods=["POST"]),
            Route(base + "/sobjects/{sobject}/", self._api(self.create), methods=["POST"]),
            Route(base + "/sobjects/{sobject}/describe", self._api(self.describe), methods=["GET"]),
            Route(base + "/sobjects/{sobject}/{id}", self._api(self.record), methods=["GET", "PATCH", "DELETE"]),
            Route(base + "/sobjects/{sobject}/{field}/{value}", self._api(self.by_external_id), methods=["GET"]),
        ]

    async def versions(self, request: Request) -> Response:
        # The versions list needs no session and carries no Sforce-Limit-Info.
        return _json(
            [
                {"label": f"v{n}.0", "url": f"/services/data/v{n}.0", "version": f"{n}.0"}
                for n in range(MIN_VERSION, MAX_VERSION + 1)
            ]
        )

    def _api(self, handler: Callable[[Request, str, str], Awaitable[Response]]) -> Handler:
        """Wrap a handler with version and session checks, the allocation and ``Sforce-Limit-Info``."""

        async def endpoint(request: Request) -> Response:
            org = self.org
            version = request.path_params["version"]
            match = _VERSION.match(version)
            if match is None or not MIN_VERSION <= int(match.group(1)) <= MAX_VERSION:
                return error_response(not_found(), org.limit_info())
            header = request.headers.get("authorization", "")
            scheme, _, token = header.partition(" ")
            status = self.auth.check_access_token(token.strip()) if scheme.lower() in ("bearer", "oauth") else None
            if status is None or not status.active or status.info is None or not self.user_active(status.info.subject):
                return error_response(
                    ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid"), org.limit_info()
                )
            if "api" not in status.info.scopes and "full" not in status.info.scopes:
                return error_response(
                    ApiError(403, "API_DISABLED_FOR_ORG", "This session is not valid for use with the REST API"),
                    org.limit_info(),
                )
            with org.lock:
                org.request_log.append((request.method, request.url.path))
            try:
                org.count_request()
                response = await handler(request, version, status.info.subject)
            except ApiError as exc:
                return error_response(exc, org.limit_info())
            except MultipleChoices as exc:
                response = _json(exc.urls, 300)
            response.headers["Sforce-Limit-Info"] = org.limit_info()
            return response

        return endpoint

    async def resources(self, request: Request, version: str, user: str) -> Response:
        return _json(
            {
                "limits": f"/services/data/{version}/limits",
                "query": f"/services/data/{version}/query",
                "queryAll": f"/services/data/{version}/queryAll",
                "sobjects": f"/services/data/{version}/sobjects",
            }
        )

    async def limits(self, request: Request, version: str, user: str) -> Response:
        with self.org.lock:
            used, limit = self.org.api_usage, self.org.daily_limit
        return _json({"DailyApiRequests": {"Max": limit, "Remaining": max(limit - used, 0)}})

    def _batch_size(self, request: Request) -> int:
        match = _BATCH.search(request.headers.get("sforce-query-options", ""))
        if match is None:
            return 2000
        # Documented bounds: at least 200, at most 2,000 records per batch.
        return min(max(int(match.group(1)), 200), 2000)

    async def query(self, request: Request, version: str, user: str) -> Response:
        soql = request.query_params.get("q")
        if not soql:
            raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        try:
            body = self.org.query(
                soql, version=version, batch_size=self._batch_size(request), owner=user, now=time.monotonic()
            )
        except SlowPage as slow:
            return await self._timed_out(slow.answer)
        return _json(body)

    async def _timed_out(self, answer: str) -> Response:
        """The answer to a query page too big to serve in time (see ``FakeSalesforce.slow_pages``)."""
        if answer == "query_timeout":
            # Salesforce's own signal: the database gave up on the query.
            raise ApiError(400, "QUERY_TIMEOUT", "Your query request was running for too long.")
        if answer == "stall":
            await asyncio.sleep(self.stall())  # longer than the client waits
        # The gateway's answer when the org behind it did not: a page, not Salesforce's error array.
        page = (
            b"<html><head><title>504 Gateway Time-out</title></head><body><h1>504 Gateway Time-out</h1></body></html>"
        )
        return Response(page, status_code=504, media_type="text/html")

    async def query_more(self, request: Request, version: str, user: str) -> Response:
        return _json(
            self.org.query_more(request.path_params["locator"], version=version, owner=user, now=time.monotonic())
        )

    async def describe(self, request: Request, version: str, user: str) -> Response:
        return _json(self.org.describe(request.path_params["sobject"], version=version))

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ApiError(400, "JSON_PARSER_ERROR", "Unexpected character in the request body") from None

    async def create(self, request: Request, version: str, user: str) -> Response:
        record_id = self.org.create(
            request.path_params["sobject"], await self._body(request), owner=user, now=soql_now()
        )
        return _json({"id": record_id, "success": True, "errors": []}, 201)

    async def collection(self, request: Request, version: str, user: str) -> Response:
        if int(version[1:3]) < COLLECTIONS_SINCE:
            raise not_found()
        results = self.org.save_many(
            await self._body(request), owner=user, now=soql_now(), creating=request.method == "POST"
        )
        return _json(results)

    async def record(self, request: Request, version: str, user: str) -> Response:
        name, record_id = request.path_params["sobject"], request.path_params["id"]
        if request.method == "GET":
            fields = request.query_params.get("fields")
            chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields else None
            return _json(self.org.get(name, record_id, version=version, fields=chosen))
        if request.method == "PATCH":
            self.org.update(name, record_id, await self._body(request), now=soql_now())
            return Response(status_code=204)
        self.org.delete(name, record_id)
        return Response(status_code=204)

    async def by_external_id(self, request: Request, version: str, user: str) -> Response:
        p = request.path_params
        return _json(self.org.get_by_external_id(p["sobject"], p["field"], p["value"], version=version))
