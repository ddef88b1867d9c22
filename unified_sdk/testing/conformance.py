"""The conformance kit: the standard checks every provider plugin passes against its local fake.

Each check is a method of :class:`ConformanceSuite` that a test calls on its
own, so a failing plugin sees which property broke; :meth:`ConformanceSuite.run_all`
(and :func:`run_conformance`) runs them all and reports every failure at once.
Every failure message says what to fix in the plugin or its fake.

Checks:

- :meth:`~ConformanceSuite.check_scope_mapping`: every operation an adapter offers
  needs a unified scope the plugin maps to at least one required provider scope;
  the plugin maps no unknown unified scope, and unknown ones are refused.
- :meth:`~ConformanceSuite.check_status_translation`: every status 400-599 the fake
  answers with becomes exactly one unified error (its category's class, the status
  kept), a call-log row with the category and the action applied, and the health
  signal of the category (DESIGN.md's error table).
- :meth:`~ConformanceSuite.check_health_check`: the health check passes with good
  credentials and fails with an authentication error with bad ones.
- :meth:`~ConformanceSuite.check_hostile_ids`: ids that would address another
  object or URL are refused before anything is sent.
- :meth:`~ConformanceSuite.check_exact_paging`: listings walk every record exactly once.
- :meth:`~ConformanceSuite.check_secrets_absent`: API keys, tokens and the client
  secret appear in no log record (any logger, DEBUG), call-log row, exception or repr.
- :meth:`~ConformanceSuite.check_refresh_single_flight`: many threads meeting an
  expired access token cause one refresh.
- :meth:`~ConformanceSuite.check_revocation`: deleting an OAuth connection revokes
  its tokens at the fake, authenticated the way the plugin declares.

Example (a plugin's ``tests/test_acme_conformance.py``)::

    import pytest
    from unified_sdk.testing.conformance import ConformanceSuite
    from unified_sdk_acme import AcmeProvider
    from unified_sdk_acme.fake import FakeAcme

    @pytest.fixture
    def suite(tmp_path):
        return ConformanceSuite(AcmeProvider, FakeAcme, tmp_path)

    @pytest.mark.parametrize("check", ConformanceSuite.CHECKS)
    def test_conformance(suite, check):
        getattr(suite, check)()
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from unified_sdk._outcome import DEFAULT_HEALTH, Category, HealthSignal, Outcome, category_for_status
from unified_sdk._scopes import UNIFIED_SCOPES, scope_for
from unified_sdk.errors import UnifiedError, error_class_for
from unified_sdk.provider import AuthType, Credentials, Provider
from unified_sdk.testing._clients import authorize, sqlite_client
from unified_sdk.testing._conformance import HOSTILE_IDS, check_hostile_ids_refused
from unified_sdk.testing._paging import check_exact_paging

if TYPE_CHECKING:
    from unified_sdk._client import Client
    from unified_sdk._connections import Connection

__all__ = ["ConformanceError", "ConformanceFake", "ConformanceSuite", "run_conformance"]

_OPERATIONS = ("list", "get", "create", "update", "delete")
_AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")
_PAGED = ("deals", "contacts", "companies")


class ConformanceFake(Protocol):
    """The common fake API (DESIGN.md, "Plugin contract") the kit drives; every bundled fake has it.

    ``api_key`` is needed only when the plugin accepts API keys; the OAuth members
    only when it has OAuth.
    """

    @property
    def config(self) -> Mapping[str, Any]:
        """Connection config pointing the plugin at the fake."""

    @property
    def oauth_client_id(self) -> str: ...

    @property
    def oauth_client_secret(self) -> str: ...

    @property
    def token_requests(self) -> Mapping[str, int]:
        """Token-endpoint requests so far, by grant type."""

    @property
    def received_requests(self) -> list[tuple[str, str]]:
        """``(method, path)`` of every request that reached the fake."""

    def approve(self, authorization_url: str, *args: Any, **kwargs: Any) -> str: ...

    def expire_access_tokens(self) -> Any: ...

    def seed(self, *, deals: int = ..., contacts: int = ..., companies: int = ...) -> Any: ...

    def clear(self) -> None: ...

    def inject(self, *, status: int | None = ..., times: int = ...) -> None: ...

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> Any: ...


class ConformanceError(AssertionError):
    """One or more conformance checks failed; ``failures`` maps each check to its message."""

    def __init__(self, failures: Mapping[str, str]) -> None:
        self.failures = dict(failures)
        lines = [f"{len(self.failures)} conformance check(s) failed:"]
        lines += [f"- {name}: {message}" for name, message in self.failures.items()]
        super().__init__("\n".join(lines))


@dataclass
class ConformanceSuite:
    """The conformance checks for one plugin, each runnable on its own.

    ``fake_factory()`` returns a fresh, not yet started fake (a context manager);
    each check starts its own and a client on a SQLite file in ``directory``, with
    the plugin registered directly (``Client(providers={name: provider})``), so the
    plugin need not be installed.

    ``statuses``: the statuses the status check injects (default 400-599).
    ``categories``: statuses the provider documents with another category than the
    default table's (``{400: Category.RATE_LIMITED}``). ``refresh_threads``: how many
    threads meet the expired token. ``paging_examples``: generated paging cases per
    resource (hypothesis when installed), besides the fixed edge cases.
    """

    provider: type[Provider]
    fake_factory: Callable[[], Any]
    directory: Path
    statuses: Sequence[int] = tuple(range(400, 600))
    categories: Mapping[int, Category] = field(default_factory=dict)
    refresh_threads: int = 8
    paging_examples: int = 6
    _runs: int = 0

    CHECKS: ClassVar[tuple[str, ...]] = (
        "check_scope_mapping",
        "check_status_translation",
        "check_health_check",
        "check_hostile_ids",
        "check_exact_paging",
        "check_secrets_absent",
        "check_refresh_single_flight",
        "check_revocation",
    )
    """The names of every check, in the order :meth:`run_all` runs them (for ``pytest.mark.parametrize``)."""

    # -- running ----------------------------------------------------------------------
    def run_all(self) -> list[str]:
        """Run every check; raise :class:`ConformanceError` listing each failure. Returns the checks run."""
        failures: dict[str, str] = {}
        for name in self.CHECKS:
            try:
                getattr(self, name)()
            except AssertionError as exc:
                failures[name] = str(exc)
        if failures:
            raise ConformanceError(failures)
        return list(self.CHECKS)

    @property
    def name(self) -> str:
        return self.provider.name

    @property
    def has_oauth(self) -> bool:
        return self.provider.oauth is not None and AuthType.OAUTH2 in self.provider.auth_types

    @property
    def has_api_key(self) -> bool:
        return AuthType.API_KEY in self.provider.auth_types

    @contextlib.contextmanager
    def environment(self) -> Iterator[tuple[Client, Any]]:
        """A started fake and a client that knows the plugin, both closed afterwards."""
        self._runs += 1
        with (
            self.fake_factory() as fake,
            sqlite_client(
                self.directory,
                filename=f"conformance-{self._runs}.db",
                timeout=5.0,
                providers={self.name: self.provider},
            ) as client,
        ):
            yield client, fake

    def connect(self, client: Client, fake: Any, *, oauth: bool | None = None) -> Connection:
        """A connection to ``fake``: an API-key one when the plugin has API keys (unless ``oauth``), else OAuth."""
        if oauth is None:
            oauth = not (self.has_api_key and getattr(fake, "api_key", None))
        if oauth:
            assert self.has_oauth, f"{self.name}: OAuth is not declared (set `oauth = OAuth2Spec(...)` and auth_types)"
            return authorize(client, fake, self.name, self.oauth_scopes())
        return client.connections.create(provider=self.name, credentials={"api_key": fake.api_key}, config=fake.config)

    def resources(self) -> dict[str, list[str]]:
        """Each resource the plugin has an adapter for, with the operations it offers."""
        plugin = self.provider()
        found: dict[str, list[str]] = {}
        for resource in self.provider.adapters:
            adapter = plugin.adapter(resource)
            assert adapter is not None, f"{self.name}: adapters[{resource!r}] could not be loaded"
            found[resource] = [op for op in _OPERATIONS if type(adapter).supports(op)]
        return found

    def oauth_scopes(self) -> list[str]:
        """The unified scopes the OAuth connections ask for: those the declared operations need."""
        needed = {scope_for(r, op) for r, ops in self.resources().items() for op in ops}
        return sorted(s for s in needed if s is not None and s in self.provider.scopes)

    def _list_target(self) -> tuple[str, str]:
        for resource, ops in self.resources().items():
            group, _, name = resource.partition(".")
            if group == "crm" and "list" in ops:
                return group, name
        raise AssertionError(f"{self.name}: no crm resource offers list; the kit needs one to drive requests")

    def _list(self, client: Client, connection_id: str) -> Any:
        group, name = self._list_target()
        return getattr(getattr(client, group), name).list(connection_id=connection_id, limit=1)

    # -- scopes ----------------------------------------------------------------------
    def check_scope_mapping(self) -> None:
        """Every offered operation's unified scope is mapped, to required provider scopes; no unknown scope."""
        problems: list[str] = []
        unknown = sorted(s for s in self.provider.scopes if s not in UNIFIED_SCOPES)
        if unknown:
            problems.append(f"`scopes` maps unknown unified scopes {unknown}; use only {sorted(UNIFIED_SCOPES)}")
        for resource, ops in self.resources().items():
            for op in ops:
                scope = scope_for(resource, op)
                if scope is None:
                    problems.append(f"{resource} is not a unified resource (no unified scope covers {op})")
                    continue
                mapping = self.provider.scopes.get(scope)
                if mapping is None:
                    problems.append(f"{resource}.{op} needs unified scope {scope!r}: add it to `scopes`")
                elif not mapping.required or not all(isinstance(s, str) and s for s in mapping.required):
                    problems.append(
                        f"scopes[{scope!r}].required is empty: name the provider scopes {resource}.{op} needs"
                    )
        if self.has_oauth:
            assert self.provider.oauth is not None
            method = self.provider.oauth.token_endpoint_auth_method
            if method not in _AUTH_METHODS:
                problems.append(f"oauth.token_endpoint_auth_method={method!r}; use one of {_AUTH_METHODS}")
            with sqlite_client(
                self.directory, filename="conformance-scopes.db", providers={self.name: self.provider}
            ) as client:
                client.integrations.configure(
                    self.name, client_id="conformance", client_secret="x", redirect_uri="https://app.example/cb"
                )
                try:
                    client.auth.authorization_url(self.name, scopes=["crm_unknown_read"])
                except UnifiedError:
                    pass
                else:
                    problems.append("an authorization URL was built for the unknown unified scope crm_unknown_read")
        assert not problems, f"{self.name} scope mapping: " + "; ".join(problems)

    # -- statuses and health -------------------------------------------------------------
    def check_status_translation(self) -> None:
        """Each status 400-599 raises one unified error with the category's class, logged action and health."""
        with self.environment() as (client, fake):
            conn = self.connect(client, fake)
            self._list(client, conn.id)
            problems: list[str] = []
            for status in self.statuses:
                problem = self._one_status(client, fake, conn.id, status)
                if problem:
                    problems.append(problem)
            shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
            assert not problems, f"{self.name} status translation ({len(problems)} statuses wrong): {shown}"

    def _one_status(self, client: Client, fake: Any, connection_id: str, status: int) -> str | None:
        error, signal = self._fail_with(client, fake, connection_id, status, start_healthy=True)
        if isinstance(error, str):
            return error
        where = f"HTTP {status}"
        expected = self.categories.get(status) or category_for_status(status)
        category = error.category
        if not isinstance(category, Category):
            return f"{where}: the error has no unified category (classify must return Outcome.failure(Category...))"
        if category != expected:
            return (
                f"{where}: category {category.value}, expected {expected} (classify it so, or declare "
                f"categories={{{status}: Category.{category.name}}} if the provider documents it)"
            )
        if not isinstance(error, error_class_for(category)):
            return f"{where}: raised {type(error).__name__}, not {error_class_for(category).__name__}"
        if error.status != status:
            return f"{where}: the error's status is {error.status} (pass status= to Outcome.failure)"
        rows = client.logs.list(connection_id=connection_id, limit=1)
        if not rows or rows[0].status != status or rows[0].category != category.value or not rows[0].action:
            row = rows[0] if rows else None
            seen = (row.status, row.category, row.action) if row else None
            return f"{where}: the last call-log row (status, category, action) is {seen}"
        if signal is None:  # neither healthy nor unhealthy from a healthy start: neutral or healthy
            again, signal = self._fail_with(client, fake, connection_id, status, start_healthy=False)
            if isinstance(again, str):
                return again
        wanted = DEFAULT_HEALTH[category]
        if signal != wanted:
            return f"{where}: health signal {signal}, expected {wanted} for {category.value} (Outcome.failure(health=))"
        return None

    def _fail_with(
        self, client: Client, fake: Any, connection_id: str, status: int, *, start_healthy: bool
    ) -> tuple[UnifiedError | str, HealthSignal | None]:
        """Inject ``status`` for every attempt of one list call; the error and the health signal seen.

        From a healthy start only an unhealthy signal shows (``None`` otherwise); from an
        unhealthy one, healthy or neutral.
        """
        store = client._runtime.connections_store
        start = Outcome.success() if start_healthy else Outcome.failure(Category.AUTHENTICATION)
        store.record_health(connection_id, start, "conformance: reset")
        fake.inject(status=status, times=50)
        try:
            self._list(client, connection_id)
        except UnifiedError as exc:
            error: UnifiedError | str = exc
        except Exception as exc:
            error = f"HTTP {status}: raised {type(exc).__name__}: {exc} (classify must return Outcome.failure)"
        else:
            error = f"HTTP {status}: the call succeeded (classify must treat every status >= 400 as a failure)"
        finally:
            fake.faults.clear()
        health = client.connections.get(connection_id).health.value
        if start_healthy:
            return error, HealthSignal.UNHEALTHY if health != "healthy" else None
        return error, HealthSignal.HEALTHY if health == "healthy" else HealthSignal.NEUTRAL

    def check_health_check(self) -> None:
        """The health check passes with good credentials and raises an authentication error with bad ones."""
        with self.environment() as (client, fake):
            conn = self.connect(client, fake)
            checked = client.connections.check(conn.id)
            assert checked.health.value == "healthy", (
                f"{self.name}: connections.check() left the connection {checked.health.value} with good credentials"
            )
            kind = "api_key" if conn.auth_type == AuthType.API_KEY.value else "access_token"
            bad = client.connections.create(
                provider=self.name, credentials={kind: "conformance-wrong-credential"}, config=fake.config
            )
            try:
                client.connections.check(bad.id)
            except UnifiedError as exc:
                assert exc.category == Category.AUTHENTICATION, (
                    f"{self.name}: the health check with a wrong {kind} raised {exc.category}, not authentication"
                )
            else:
                raise AssertionError(
                    f"{self.name}: health_check passed with a wrong {kind}; it must make an authenticated request"
                )
            assert client.connections.get(bad.id).health.value == "unhealthy", (
                f"{self.name}: a failed health check must leave the connection unhealthy"
            )

    # -- ids and paging -----------------------------------------------------------------
    def check_hostile_ids(self) -> None:
        """Every id-taking operation refuses :data:`HOSTILE_IDS`, sending nothing."""
        with self.environment() as (client, fake):
            conn = self.connect(client, fake)
            refused = check_hostile_ids_refused(client, conn.id, fake)
            taking_ids = sum(
                op in ("get", "update", "delete")
                for r, ops in self.resources().items()
                if r.startswith("crm.")
                for op in ops
            )
            assert refused == len(HOSTILE_IDS) * taking_ids, (
                f"{self.name}: {refused} hostile (operation, id) pairs refused, "
                f"{len(HOSTILE_IDS) * taking_ids} expected"
            )

    def check_exact_paging(self) -> None:
        """Listing deals, contacts and companies walks every record exactly once, for edge and generated cases."""
        with self.environment() as (client, fake):
            conn = self.connect(client, fake)
            plugin = self.provider()
            for resource, ops in self.resources().items():
                group, _, name = resource.partition(".")
                if group != "crm" or name not in _PAGED or "list" not in ops:
                    continue
                adapter: Any = plugin.adapter(resource)
                most: int = type(adapter).max_page_size
                cases = [(0, 1, 0), (3, 1, 2), (most, most, 0), (most + 1, most, 1), (2 * most, most, most)]
                # A fake whose seed() replaces its data set offers add() to add to it (the sandbox does).
                adds = getattr(fake, "add", None)
                add = (lambda n, name=name, adds=adds: adds(**{name: n})) if callable(adds) else None
                for total, limit, added in cases + _generated(self.paging_examples, most):
                    check_exact_paging(
                        client, conn.id, fake, resource=name, total=total, limit=limit, add_during_walk=added, add=add
                    )

    # -- secrets ----------------------------------------------------------------------
    def check_secrets_absent(self) -> None:
        """Canary credentials appear in no log record, call-log row, exception or repr."""
        with self.environment() as (client, fake), _captured_logs() as records:
            seen: list[tuple[str, str]] = []
            connections = []
            if self.has_api_key and getattr(fake, "api_key", None):
                connections.append(self.connect(client, fake, oauth=False))
            if self.has_oauth:
                connections.append(self.connect(client, fake, oauth=True))
            secrets = {s for s in (getattr(fake, "api_key", None), getattr(fake, "oauth_client_secret", None)) if s}
            store = client._runtime.connections_store
            for conn in connections:
                secrets.update(_stored_secrets(client, conn.id))
                self._list(client, conn.id)
                client.connections.check(conn.id)
                for status in (400, 401, 403, 404, 500):
                    fake.inject(status=status, times=50)
                    try:
                        self._list(client, conn.id)
                    except UnifiedError as exc:
                        seen += [("exception str", str(exc)), ("exception repr", repr(exc))]
                        seen.append(("exception details", repr(exc.details)))
                    finally:
                        fake.faults.clear()
                if conn.auth_type == AuthType.OAUTH2.value:
                    fake.expire_access_tokens()
                    self._list(client, conn.id)
                    secrets.update(_stored_secrets(client, conn.id))
                record = store.row(conn.id)
                creds = store.decrypt_credentials(conn.id, record["credentials"])
                seen += [("Connection repr", repr(client.connections.get(conn.id))), ("Credentials repr", repr(creds))]
            for conn in connections:
                client.connections.delete(conn.id)
            for row in client.logs.list(limit=10_000):
                seen.append((f"call-log row {row.operation} {row.method} {row.url}", repr(row)))
                seen.append((f"call-log row {row.operation} as curl", row.as_curl()))
            seen += [(f"log record {r.name} {r.levelname}", _record_text(r)) for r in records]
        secrets = {s for s in secrets if len(s) >= 8}
        assert secrets, f"{self.name}: the kit found no credentials to look for"
        leaks = [(where, s[:6] + "…") for where, text in seen for s in secrets if s in text]
        assert not leaks, (
            f"{self.name}: secrets leaked in {leaks[:5]}; keep credentials out of messages, provider_message, "
            "details and URLs (put them in headers or bodies, which the core redacts)"
        )

    # -- OAuth ------------------------------------------------------------------------
    def check_refresh_single_flight(self) -> None:
        """Threads meeting an expired access token all succeed after exactly one refresh."""
        if not self.has_oauth:
            return
        with self.environment() as (client, fake):
            conn = self.connect(client, fake, oauth=True)
            self._list(client, conn.id)
            fake.expire_access_tokens()
            before = dict(fake.token_requests).get("refresh_token", 0)
            barrier = threading.Barrier(self.refresh_threads)
            errors: list[BaseException] = []

            def call() -> None:
                barrier.wait()
                try:
                    self._list(client, conn.id)
                except BaseException as exc:  # reported below with the count
                    errors.append(exc)

            threads = [threading.Thread(target=call) for _ in range(self.refresh_threads)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(60)
            refreshes = dict(fake.token_requests).get("refresh_token", 0) - before
            assert not errors, f"{self.name}: {len(errors)} of {self.refresh_threads} calls failed: {errors[0]!r}"
            assert refreshes == 1, (
                f"{self.name}: {self.refresh_threads} threads with an expired token made {refreshes} refresh "
                "requests, expected 1 (a 401 for an expired token must classify as authentication)"
            )

    def check_revocation(self) -> None:
        """Deleting an OAuth connection revokes its tokens, with the declared client authentication."""
        if not self.has_oauth:
            return
        assert self.provider.oauth is not None
        with self.environment() as (client, fake):
            conn = self.connect(client, fake, oauth=True)
            self._list(client, conn.id)
            store = client._runtime.connections_store
            creds: Credentials = store.decrypt_credentials(conn.id, store.row(conn.id)["credentials"])
            if not fake.config.get("revoke_url") and not self.provider.oauth.revoke_url:
                return  # the provider has no revocation endpoint
            client.connections.delete(conn.id)
            rows = [r for r in client.logs.list(connection_id=conn.id, limit=1000) if r.operation == "oauth.revoke"]
            assert rows, f"{self.name}: deleting the connection sent no revocation request (set oauth.revoke_url)"
            failed = [(r.status, r.response_body) for r in rows if r.status is None or r.status >= 400]
            assert not failed, (
                f"{self.name}: revocation failed {failed[:2]}; the fake accepts only the client authentication "
                f"the plugin declares (token_endpoint_auth_method={self.provider.oauth.token_endpoint_auth_method!r})"
            )
            again = client.connections.create(
                provider=self.name, credentials={"access_token": creds.access_token}, config=fake.config
            )
            try:
                client.connections.check(again.id)
            except UnifiedError as exc:
                assert exc.category == Category.AUTHENTICATION, f"{self.name}: revoked token: {exc!r}"
            else:
                raise AssertionError(f"{self.name}: the access token still works after the connection was deleted")


def run_conformance(
    provider: type[Provider], fake_factory: Callable[[], Any], directory: str | Path, **options: Any
) -> list[str]:
    """Run every check of :class:`ConformanceSuite` (``options`` are its fields); raise :class:`ConformanceError`.

    Example::

        def test_conformance(tmp_path):
            run_conformance(AcmeProvider, FakeAcme, tmp_path)
    """
    return ConformanceSuite(provider, fake_factory, Path(directory), **options).run_all()


def _generated(count: int, most: int) -> list[tuple[int, int, int]]:
    """``count`` paging cases (total, limit, added): drawn by hypothesis when installed, else fixed ones."""
    if count <= 0:
        return []
    try:
        from hypothesis import HealthCheck, given, settings
        from hypothesis import strategies as st
    except ImportError:
        return [(7 * k + 2, max(1, most // (k + 2)), k % 3) for k in range(count)]
    drawn: list[tuple[int, int, int]] = []

    @settings(
        max_examples=count, database=None, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
    )
    @given(limit=st.integers(1, most), pages=st.integers(0, 4), extra=st.integers(0, 3), added=st.integers(0, 3))
    def draw(limit: int, pages: int, extra: int, added: int) -> None:
        drawn.append((min(pages * limit + extra, 300), limit, added))

    draw()
    return drawn


def _stored_secrets(client: Client, connection_id: str) -> list[str]:
    store = client._runtime.connections_store
    creds = store.decrypt_credentials(connection_id, store.row(connection_id)["credentials"])
    return creds.secret_values()


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def _captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Every log record of every logger at DEBUG while the block runs; levels restored afterwards."""
    collector = _Collector()
    root = logging.getLogger()
    loggers = [root, *(v for v in logging.root.manager.loggerDict.values() if isinstance(v, logging.Logger))]
    levels = [(lg, lg.level, lg.disabled) for lg in loggers]
    extra = [lg for lg in loggers if not lg.propagate]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.disabled = False
    for lg in (root, *extra):
        lg.addHandler(collector)
    try:
        yield collector.records
    finally:
        for lg in (root, *extra):
            lg.removeHandler(collector)
        for lg, level, disabled in levels:
            lg.setLevel(level)
            lg.disabled = disabled


def _record_text(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # a record whose args do not fit its format: scan both anyway
        message = f"{record.msg} {record.args}"
    extra = {k: v for k, v in vars(record).items() if k not in _STANDARD_RECORD}
    return f"{message} {record.exc_text or ''} {extra!r}"


_STANDARD_RECORD = set(vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None))) | {"message", "asctime"}
