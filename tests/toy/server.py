"""A tiny server for the toy provider, with scripted statuses."""

from __future__ import annotations

import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from unified_sdk.testing import LocalServer


class ToyServer(LocalServer):
    def __init__(self, items: int = 25) -> None:
        super().__init__()
        self.items = [{"key": i, "label": f"item {i}"} for i in range(items)]
        self.hits: dict[str, int] = {}
        self.daily_budget = 1000
        """Requests the toy "day" allows; every API response says how much is left."""
        self._lock = threading.Lock()

    def build_app(self) -> Any:
        async def items(request: Request) -> JSONResponse:
            if request.method == "POST":
                body = await request.json()
                item = {"key": len(self.items), "label": body.get("label")}
                self.items.append(item)
                return JSONResponse(item, status_code=201)
            n = int(request.query_params.get("n", "10"))
            start = int(request.query_params.get("after", "0"))
            page = self.items[start : start + n]
            after = str(start + n) if start + n < len(self.items) else None
            used = sum(self.hits.values())
            headers = {"x-budget": f"{max(self.daily_budget - used, 0)}/{self.daily_budget}"}
            return JSONResponse({"items": page, "after": after}, headers=headers)

        app = Starlette(routes=[Route("/items", items, methods=["GET", "POST"])])

        def error_body(status: int, fault: Any) -> tuple[Any, dict[str, str]]:
            return {"error": f"toy error {status}"}, {}

        inner = self.faults.middleware(app, error_body)

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                with self._lock:
                    key = f"{scope['method']} {scope['path']}"
                    self.hits[key] = self.hits.get(key, 0) + 1
            await inner(scope, receive, send)

        return counted
