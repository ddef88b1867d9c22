"""``client.passthrough``: any provider request through the same pipeline (auth, logs, retries)."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

from unified_sdk._calls import prepare_passthrough
from unified_sdk._drivers import AsyncRunner, SyncRunner
from unified_sdk._pipeline import Blocking, Call, CallOptions, request_flow
from unified_sdk.errors import ProviderError
from unified_sdk.provider import ProviderRequest, ProviderResponse

if TYPE_CHECKING:
    from unified_sdk._runtime import Runtime


class Passthrough:
    """``client.passthrough``: any provider request through the same pipeline (auth, logs, retries)."""

    def __init__(self, runtime: Runtime, run: SyncRunner, options: CallOptions | None = None) -> None:
        self._runtime = runtime
        self._run = run
        self._options = options or CallOptions()

    def request(
        self,
        connection_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> ProviderResponse:
        """Send ``method path`` (relative to the connection's API base URL) and return the response.

        An absolute URL is accepted only on the connection's API host (or a host its provider
        declares); any other raises :class:`~unified_sdk.errors.ValidationError` before sending.
        ``timeout`` (seconds) bounds this call instead of the client's timeout.
        """
        flow = passthrough_flow(
            self._runtime,
            connection_id,
            method,
            path,
            params=params,
            json=json,
            data=data,
            headers=headers,
            options=self._options.merged(timeout=timeout),
        )
        return self._run(flow)


class AsyncPassthrough:
    """The async twin of :class:`Passthrough`."""

    def __init__(self, runtime: Runtime, run: AsyncRunner, options: CallOptions | None = None) -> None:
        self._runtime = runtime
        self._run = run
        self._options = options or CallOptions()

    async def request(
        self,
        connection_id: str,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> ProviderResponse:
        flow = passthrough_flow(
            self._runtime,
            connection_id,
            method,
            path,
            params=params,
            json=json,
            data=data,
            headers=headers,
            options=self._options.merged(timeout=timeout),
        )
        return await self._run(flow)


def passthrough_flow(
    runtime: Runtime,
    connection_id: str,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json: Any = None,
    data: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    options: CallOptions | None = None,
) -> Generator[Any, Any, ProviderResponse]:
    """A single request on ``connection_id``; ``path`` relative to its API base URL (or an absolute URL on it)."""
    call: Call = yield Blocking(lambda: prepare_passthrough(runtime, connection_id, options=options))
    preq = ProviderRequest(method, path, params=params, json=json, data=data, headers=headers)
    response = yield from request_flow(call, preq)
    if response is None:
        raise ProviderError(
            f"{call.provider.name} {method.upper()} {path} got no response",
            provider=call.provider.name,
            connection_id=connection_id,
            hint="a response-action rule treated a transport failure as success, so there is no response to return",
        )
    return response
