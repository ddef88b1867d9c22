"""The same behaviours through ``AsyncClient``: OAuth, CRUD, session refresh, the daily allocation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sf_testkit import ALL_SCOPES, REDIRECT_URI, new_client
from unified_sdk_salesforce.fake import FakeSalesforce

from unified_sdk import AsyncClient
from unified_sdk.errors import NotFoundError, RateLimitedError
from unified_sdk.testing import authorize_async


async def _connect(client: Any, sf: FakeSalesforce) -> Any:
    return await authorize_async(client, sf, "salesforce", ALL_SCOPES, redirect_uri=REDIRECT_URI)


@pytest.fixture
async def aclient(tmp_path: Path) -> Any:
    client = new_client(tmp_path, AsyncClient)
    yield client
    await client.aclose()


async def test_async_oauth_crud_and_refresh(aclient: Any, sf: FakeSalesforce) -> None:
    conn = await _connect(aclient, sf)
    assert conn.config["base_url"] == sf.url and conn.health == "healthy"
    company = await aclient.crm.companies.create(connection_id=conn.id, data={"name": "Bob's \\ BBQ"})
    assert company is not None and company.name == "Bob's \\ BBQ"
    sf.expire_access_tokens()
    found = await aclient.crm.companies.list(connection_id=conn.id, query="Bob's \\ BBQ")
    assert [c.id for c in found.data] == [company.id]
    assert sf.token_requests == {"authorization_code": 1, "refresh_token": 1}
    updated = await aclient.crm.companies.update(connection_id=conn.id, id=company.id, data={"industry": "Food"})
    assert updated is not None and updated.industry == "Food"
    await aclient.crm.companies.delete(connection_id=conn.id, id=company.id)
    with pytest.raises(NotFoundError):
        await aclient.crm.companies.get(connection_id=conn.id, id=company.id)


async def test_async_daily_allocation(aclient: Any, sf: FakeSalesforce) -> None:
    conn = await _connect(aclient, sf)
    sf.daily_limit = sf.api_usage
    with pytest.raises(RateLimitedError) as info:
        await aclient.crm.users.list(connection_id=conn.id)
    assert info.value.provider_code == "REQUEST_LIMIT_EXCEEDED"
    assert (await aclient.connections.get(conn.id)).health == "healthy"
