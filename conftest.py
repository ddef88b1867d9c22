"""Suite-wide test settings (every test under ``tests/`` and ``providers/``)."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable

import httpcore2
import pytest

_built: Callable[..., ssl.SSLContext] | None = None


def pytest_configure(config: pytest.Config) -> None:
    # Each httpx2 client loads the system CA bundle into a new SSL context (~40 ms of CPU); the suite builds a
    # client per SDK client and per OAuth exchange, all for plain-HTTP loopback servers: about 30% of its CPU
    # time. One context per test process holds the same trust store, and no test speaks TLS.
    global _built
    _built = httpcore2.default_ssl_context
    httpcore2.default_ssl_context = functools.cache(_built)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _built is not None:
        httpcore2.default_ssl_context = _built
