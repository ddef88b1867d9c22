"""The local Salesforce itself, over raw HTTP: SOQL subset, escapes, locators, limits and ids."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import httpx2
import pytest
from unified_sdk_salesforce import SalesforceProvider, _soql
from unified_sdk_salesforce.fake import FakeSalesforce
from unified_sdk_salesforce.fake._schema import id18, is_record_id

from unified_sdk.provider import ProviderResponse

V = "/services/data/v62.0"


def _get(sf: FakeSalesforce, path: str, token: str, **kwargs: Any) -> httpx2.Response:
    return httpx2.get(
        sf.url + path, headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}, **kwargs
    )


def _query(sf: FakeSalesforce, token: str, soql: str, **kwargs: Any) -> httpx2.Response:
    return _get(sf, V + "/query", token, params={"q": soql}, **kwargs)


@pytest.fixture
def token(sf: FakeSalesforce) -> str:
    return sf.session_token()


@pytest.mark.parametrize(
    "value",
    ["plain", "O'Brien", "back\\slash", "\\'", "'; DELETE", "tab\tnew\nline\rcr", 'dq"', "%_%", "\\\\''", "é ü 中"],
)
def test_builder_literals_parse_back_to_the_same_value(sf: FakeSalesforce, token: str, value: str) -> None:
    created = httpx2.post(
        sf.url + V + "/sobjects/Account", json={"Name": value}, headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 201
    soql = _soql.select("Account", ["Id", "Name"], conditions=[_soql.where("Name", "=", value)])
    body = _query(sf, token, soql).json()
    assert [r["Id"] for r in body["records"]] == [created.json()["id"]]
    assert body["records"][0]["Name"] == value


def test_documented_escapes_and_illegal_ones(sf: FakeSalesforce, token: str) -> None:
    sf.seed(companies=1)
    ok = _query(sf, token, "SELECT Id FROM Account WHERE Name = 'A\\u0063count 00001'")
    assert ok.status_code == 200 and ok.json()["totalSize"] == 1
    for bad in ("'a\\qb'", "'a\\%b'", "'unterminated"):
        response = _query(sf, token, f"SELECT Id FROM Account WHERE Name = {bad}")
        assert response.status_code == 400
        assert response.json()[0]["errorCode"] == "MALFORMED_QUERY"
    like = _query(sf, token, "SELECT Id FROM Account WHERE Name LIKE 'Account\\_0%'")
    assert like.status_code == 200 and like.json()["totalSize"] == 0  # \_ is a literal underscore


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT Id FROM Account GROUP BY Name", "MALFORMED_QUERY"),
        ("SELECT COUNT() FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id, (SELECT Id FROM Contacts) FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id, Id FROM Account", "MALFORMED_QUERY"),
        ("DELETE FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE Amount > '5'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE LastModifiedDate > 2024-01-01", "INVALID_FIELD"),
    ],
)
def test_unsupported_or_wrong_soql_is_refused(sf: FakeSalesforce, token: str, soql: str, code: str) -> None:
    response = _query(sf, token, soql)
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == code
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_where_order_limit_offset(sf: FakeSalesforce, token: str) -> None:
    sf.seed(deals=40, companies=4)
    soql = (
        "SELECT Id, Name, Amount FROM Opportunity WHERE (Region__c = 'EMEA' OR Region__c = 'apac') "
        "AND NOT StageName IN ('Closed Lost') AND Amount != null ORDER BY Amount DESC NULLS LAST, Id LIMIT 5 OFFSET 1"
    )
    records = _query(sf, token, soql).json()["records"]
    assert len(records) == 5
    amounts = [r["Amount"] for r in records]
    assert amounts == sorted(amounts, reverse=True)
    assert all(set(r) == {"attributes", "Id", "Name", "Amount"} for r in records)


def test_batch_size_and_locators(sf: FakeSalesforce, token: str) -> None:
    sf.seed(deals=450)
    first = _query(sf, token, "SELECT Id FROM Opportunity", headers={"Sforce-Query-Options": "batchSize=50"}).json()
    assert len(first["records"]) == 200 and first["totalSize"] == 450 and not first["done"]  # 200 is the floor
    locator = first["nextRecordsUrl"]
    assert locator.startswith(V + "/query/01g") and locator.endswith("-200")
    second = _get(sf, locator, token).json()
    third = _get(sf, second["nextRecordsUrl"], token).json()
    assert len(second["records"]) == 200 and len(third["records"]) == 50 and third["done"]
    assert "nextRecordsUrl" not in third
    # A finished cursor is closed; an unknown one is refused.
    assert _get(sf, locator, token).json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    assert _get(sf, V + "/query/01gXXXXXXXXXXXX-2000", token).status_code == 400


def test_each_user_keeps_only_the_newest_open_locators(sf: FakeSalesforce, token: str) -> None:
    sf.seed(deals=450)
    other_user = next(u for u in sf.org.user_ids() if u != sf.admin_id)
    other_token = sf.session_token(user_id=other_user)
    options = {"Sforce-Query-Options": "batchSize=200"}
    theirs = _query(sf, other_token, "SELECT Id FROM Opportunity", headers=options).json()["nextRecordsUrl"]
    mine = [
        _query(sf, token, "SELECT Id FROM Opportunity", headers=options).json()["nextRecordsUrl"]
        for _ in range(sf.org.max_open_locators + 1)
    ]
    # Opening one more than the user may keep open drops that user's oldest; other users keep theirs.
    assert _get(sf, mine[0], token).json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    for locator in mine[1:]:
        assert len(_get(sf, locator, token).json()["records"]) == 200
    # A locator belongs to the user who opened it.
    assert _get(sf, theirs, token).json()[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
    assert len(_get(sf, theirs, other_token).json()["records"]) == 200


def test_clear_removes_the_crm_records_only(sf: FakeSalesforce, token: str) -> None:
    made = sf.seed(deals=3, contacts=2, companies=1)
    sf.clear()
    for sobject in ("Opportunity", "Contact", "Account"):
        assert _query(sf, token, f"SELECT Id FROM {sobject}").json()["totalSize"] == 0
    assert _query(sf, token, "SELECT Id FROM User").json()["totalSize"] == 5
    again = sf.seed(deals=1)
    assert again["Opportunity"][0] > made["Opportunity"][-1]  # ids are not reused


def test_limit_info_and_daily_allocation(sf: FakeSalesforce, token: str) -> None:
    sf.daily_limit = 3
    sf.api_usage = 0
    statuses = [_get(sf, V + "/limits", token) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 200, 200, 403]
    assert [r.headers["Sforce-Limit-Info"] for r in statuses] == [
        "api-usage=1/3",
        "api-usage=2/3",
        "api-usage=3/3",
        "api-usage=3/3",
    ]
    assert statuses[-1].json() == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED", "fields": []}
    ]
    limit = SalesforceProvider().parse_rate_limit(statuses[1].headers)
    assert limit is not None and (limit.remaining, limit.limit, limit.reset_after) == (1, 3, None)


def test_sessions_and_versions(sf: FakeSalesforce, token: str) -> None:
    assert _get(sf, V + "/limits", "nope").json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert httpx2.get(sf.url + "/services/data").status_code == 200  # the versions list needs no session
    assert _get(sf, "/services/data/v99.0/limits", token).status_code == 404
    assert sf.expire_access_tokens() >= 1
    expired = _get(sf, V + "/limits", token)
    assert expired.status_code == 401
    assert expired.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID", "fields": []}
    ]


def test_record_ids_are_18_characters_with_checksum(sf: FakeSalesforce) -> None:
    ids = sf.seed(deals=3, companies=2)
    for record_id in ids["Opportunity"] + ids["Account"]:
        assert len(record_id) == 18 and is_record_id(record_id)
        assert id18(record_id[:15]) == record_id
    assert ids["Opportunity"][0].startswith("006") and ids["Account"][0].startswith("001")
    assert id18("001D000000IqhSL") == "001D000000IqhSLIAZ"  # the example id in Salesforce's docs
    assert not is_record_id("001D000000IqhSLAAA")


def test_injected_errors_use_salesforce_bodies(sf: FakeSalesforce, token: str) -> None:
    sf.inject(status=503)
    response = _get(sf, V + "/limits", token)
    assert response.status_code == 503 and response.json()[0]["errorCode"] == "SERVER_UNAVAILABLE"
    outcome = SalesforceProvider().classify(ProviderResponse(503, response.headers, response.content))
    assert outcome.category == "provider_error" and outcome.provider_code == "SERVER_UNAVAILABLE"
    sf.inject(status=300)
    multiple = SalesforceProvider().classify(ProviderResponse(300, {}, _get(sf, V + "/limits", token).content))
    assert multiple.category == "conflict" and len(multiple.details["candidate_ids"]) == 2


def test_fake_runs_as_its_own_process() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "unified_sdk_salesforce.fake", "--port", "0", "--deals", "5", "--print-token"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        token = proc.stdout.readline().strip()
        response = httpx2.get(
            url + V + "/query",
            params={"q": "SELECT Id FROM Opportunity"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.json()["totalSize"] == 5
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
