"""The fake org's state: records, query locators, the daily API allocation and access rules.

Everything here is synchronous and guarded by one lock; the HTTP layer
(``_app``) translates :class:`ApiError` into Salesforce's error arrays.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from unified_sdk.testing import SlowPages
from unified_sdk_salesforce.fake import _soql
from unified_sdk_salesforce.fake._schema import (
    NUMBER_TYPES,
    SCHEMA,
    STRING_TYPES,
    Field,
    IdFactory,
    SObject,
    is_record_id,
    sobject,
    sobject_for_id,
    to_id18,
)


class ApiError(Exception):
    """A Salesforce REST error: the status and one ``{message, errorCode, fields}`` entry."""

    def __init__(self, status: int, code: str, message: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)

    def body(self) -> list[dict[str, Any]]:
        return [{"message": self.message, "errorCode": self.code, "fields": self.fields}]


class SlowPage(Exception):
    """A query asked for a page too big to serve in time; ``answer`` says how it times out."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)
        self.answer = answer


class MultipleChoices(Exception):
    """An external id matched several records (answered with 300 and their URLs)."""

    def __init__(self, urls: list[str]) -> None:
        super().__init__("multiple records match")
        self.urls = urls


def not_found() -> ApiError:
    return ApiError(404, "NOT_FOUND", "The requested resource does not exist")


STAGES: tuple[tuple[str, int, bool, bool, str], ...] = (
    # label, default probability, closed, won, forecast category
    ("Prospecting", 10, False, False, "Pipeline"),
    ("Qualification", 10, False, False, "Pipeline"),
    ("Needs Analysis", 20, False, False, "Pipeline"),
    ("Value Proposition", 50, False, False, "Pipeline"),
    ("Id. Decision Makers", 60, False, False, "Pipeline"),
    ("Perception Analysis", 70, False, False, "Pipeline"),
    ("Proposal/Price Quote", 75, False, False, "Pipeline"),
    ("Negotiation/Review", 90, False, False, "Pipeline"),
    ("Closed Won", 100, True, True, "Closed"),
    ("Closed Lost", 0, True, False, "Omitted"),
)

_REGIONS = ("AMER", "EMEA", "APAC", "LATAM")
_INDUSTRIES = ("Technology", "Manufacturing", "Finance", "Healthcare", "Retail", "Energy")
_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Margaret", "Linus")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Hamilton", "Torvalds")

#: Seeded records are stamped from here on, one minute apart, so tests can pick times between them.
SEED_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

#: The most records one sObject Collections request may carry.
COLLECTION_LIMIT = 200


@dataclass
class Locator:
    """An open query cursor: the selected records, fixed when the query ran."""

    sobject: SObject
    columns: list[Any]
    records: list[dict[str, Any]]
    batch_size: int
    owner: str
    last_used: float


@dataclass
class Org:
    """One Salesforce org as the fake keeps it."""

    daily_limit: int = 100_000
    max_open_locators: int = 10
    locator_timeout: float = 900.0
    org_id: str = "00D8c0000001FAKEEA"
    ids: IdFactory = field(default_factory=IdFactory)
    lock: threading.RLock = field(default_factory=threading.RLock)
    api_usage: int = 0
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    locators: OrderedDict[str, Locator] = field(default_factory=OrderedDict)
    denied: dict[str, set[str]] = field(default_factory=dict)
    query_log: list[str] = field(default_factory=list)
    request_log: list[tuple[str, str]] = field(default_factory=list)
    """``(method, path)`` of every authenticated REST request, in arrival order."""
    seeded: dict[str, int] = field(default_factory=dict)
    slow_pages: SlowPages = field(default_factory=SlowPages)
    """The page size of every query and the rule for pages too big to serve in time."""

    def __post_init__(self) -> None:
        for name in SCHEMA:
            self.records[name] = {}
        self.admin_id = self._insert_user("Admin", "User", "admin@fake-org.example", "System Administrator")
        for first, last in zip(_FIRST[:4], _LAST[:4], strict=True):
            self._insert_user(first, last, f"{first.lower()}.{last.lower()}@fake-org.example", "Account Executive")
        for order, (label, probability, closed, won, forecast) in enumerate(STAGES, start=1):
            self._insert_raw(
                "OpportunityStage",
                {
                    "ApiName": label,
                    "MasterLabel": label,
                    "IsActive": True,
                    "SortOrder": order,
                    "DefaultProbability": Decimal(probability),
                    "IsClosed": closed,
                    "IsWon": won,
                    "ForecastCategoryName": forecast,
                },
                SEED_EPOCH,
            )

    # -- the daily allocation -------------------------------------------------------------------
    def count_request(self) -> None:
        """Count one API request against the org's allocation, or refuse it when none is left."""
        with self.lock:
            if self.api_usage >= self.daily_limit:
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            self.api_usage += 1

    def limit_info(self) -> str:
        with self.lock:
            return f"api-usage={self.api_usage}/{self.daily_limit}"

    # -- access -----------------------------------------------------------------------------------
    def can(self, sobject_name: str, access: str) -> bool:
        return access not in self.denied.get(sobject_name, set())

    def _visible(self, name: str) -> SObject:
        found = sobject(name)
        if found is None or not self.can(found.name, "read"):
            raise not_found()
        return found

    def _check(self, obj: SObject, access: str) -> None:
        if not self.can(obj.name, access):
            # UNCONFIRMED which status the real service uses for object-level CRUD denials on
            # every path (record-level sharing failures come back as 400); the fake answers 403.
            message = (
                f"insufficient access rights to {access} {obj.name} records"
                if access == "create"
                else "insufficient access rights on object id"
            )
            raise ApiError(403, "INSUFFICIENT_ACCESS_OR_READONLY", message)

    # -- seeding ------------------------------------------------------------------------------------
    def _insert_user(self, first: str, last: str, email: str, title: str) -> str:
        return self._insert_raw(
            "User",
            {
                "Username": email,
                "FirstName": first,
                "LastName": last,
                "Name": f"{first} {last}",
                "Email": email,
                "Title": title,
                "IsActive": True,
            },
            SEED_EPOCH,
        )

    def _insert_raw(self, name: str, values: Mapping[str, Any], stamp: datetime) -> str:
        obj = SCHEMA[name]
        record_id = self.ids.new(obj.key_prefix)
        record: dict[str, Any] = dict.fromkeys(obj.fields)
        record.update(values)
        record.update(Id=record_id, IsDeleted=False, CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
        self.records[name][record_id] = record
        return record_id

    def user_ids(self) -> list[str]:
        return list(self.records["User"])

    def seed(self, *, deals: int = 0, contacts: int = 0, companies: int = 0) -> dict[str, list[str]]:
        """Add deterministic Accounts, Contacts and Opportunities; returns the new ids by object."""
        with self.lock:
            users = self.user_ids()
            made: dict[str, list[str]] = {"Account": [], "Contact": [], "Opportunity": []}
            start = sum(self.seeded.values())
            accounts = list(self.records["Account"])
            for i in range(companies):
                n = self.seeded.get("Account", 0) + i + 1
                stamp = SEED_EPOCH + timedelta(minutes=start + i)
                made["Account"].append(
                    self._insert_raw(
                        "Account",
                        {
                            "Name": f"Account {n:05d}",
                            "Website": f"https://account{n:05d}.example.com",
                            "Industry": _INDUSTRIES[n % len(_INDUSTRIES)],
                            "NumberOfEmployees": 10 * n,
                            "Phone": f"+1 415 555 {n % 10000:04d}",
                            "BillingCity": "San Francisco",
                            "BillingCountry": "USA",
                            "OwnerId": users[n % len(users)],
                            "External_Id__c": f"EXT-{n:05d}",
                            "Tier__c": ("Gold", "Silver", "Bronze")[n % 3],
                        },
                        stamp,
                    )
                )
            accounts += made["Account"]
            start += companies
            for i in range(contacts):
                n = self.seeded.get("Contact", 0) + i + 1
                first, last = _FIRST[n % len(_FIRST)], _LAST[(n // len(_FIRST)) % len(_LAST)]
                stamp = SEED_EPOCH + timedelta(minutes=start + i)
                made["Contact"].append(
                    self._insert_raw(
                        "Contact",
                        {
                            "FirstName": first,
                            "LastName": f"{last} {n:05d}",
                            "Name": f"{first} {last} {n:05d}",
                            "Title": "Buyer",
                            "Email": f"contact{n:05d}@example.com",
                            "Phone": f"+1 212 555 {n % 10000:04d}",
                            "MailingCity": "New York",
                            "MailingCountry": "USA",
                            "AccountId": accounts[n % len(accounts)] if accounts else None,
                            "OwnerId": users[n % len(users)],
                            "Preferred_Channel__c": ("Email", "Phone")[n % 2],
                            "Legacy_Id__c": f"LEGACY-{n // 2:05d}",
                        },
                        stamp,
                    )
                )
            start += contacts
            stages = list(self.records["OpportunityStage"].values())
            for i in range(deals):
                n = self.seeded.get("Opportunity", 0) + i + 1
                stage = stages[n % len(stages)]
                stamp = SEED_EPOCH + timedelta(minutes=start + i)
                made["Opportunity"].append(
                    self._insert_raw(
                        "Opportunity",
                        {
                            "Name": f"Opportunity {n:05d}",
                            "AccountId": accounts[n % len(accounts)] if accounts else None,
                            "OwnerId": users[n % len(users)],
                            "StageName": stage["ApiName"],
                            "Amount": Decimal(1000 + (n * 37) % 90000) + Decimal("0.50"),
                            "Probability": stage["DefaultProbability"],
                            "CloseDate": date(2024, 1, 1) + timedelta(days=n % 365),
                            "LeadSource": ("Web", "Partner Referral", "Phone Inquiry")[n % 3],
                            "IsClosed": stage["IsClosed"],
                            "IsWon": stage["IsWon"],
                            "Region__c": _REGIONS[n % len(_REGIONS)],
                            "Forecast_Score__c": Decimal(n % 100) / 10,
                        },
                        stamp,
                    )
                )
            for name, ids in made.items():
                self.seeded[name] = self.seeded.get(name, 0) + len(ids)
            return made

    def clear(self) -> None:
        """Delete every Account, Contact and Opportunity and close every query locator (ids are not reused)."""
        with self.lock:
            for name in ("Opportunity", "Contact", "Account"):
                self.records[name].clear()
            self.seeded.clear()
            self.locators.clear()

    # -- queries ------------------------------------------------------------------------------------
    def resolve(self, name: str, record_id: str) -> dict[str, Any] | None:
        table = self.records.get(name, {})
        return table.get(record_id) or (table.get(to_id18(record_id)) if len(record_id) == 15 else None)

    def query(self, soql: str, *, version: str, batch_size: int, owner: str, now: float) -> dict[str, Any]:
        with self.lock:
            self.query_log.append(soql)
            try:
                parsed = _soql.parse(soql, self.resolve, hidden=lambda name: not self.can(name, "read"))
            except _soql.SoqlError as exc:
                raise ApiError(400, exc.code, exc.message) from None
            # A page is the query's first batch: its LIMIT, at most the batch size.
            size = batch_size if parsed.limit is None else min(parsed.limit, batch_size)
            answer = self.slow_pages.meet(parsed.sobject.name, size)
            if answer is not None:
                raise SlowPage(answer)
            rows = _soql.run(parsed, list(self.records[parsed.sobject.name].values()), self.resolve)
            locator = Locator(parsed.sobject, parsed.columns, rows, batch_size, owner, now)
            return self._batch(locator, None, 0, version=version, now=now)

    def query_more(self, locator_text: str, *, version: str, owner: str, now: float) -> dict[str, Any]:
        with self.lock:
            key, _, offset_text = locator_text.rpartition("-")
            locator = self.locators.get(key)
            if (
                locator is None
                or locator.owner != owner
                or not offset_text.isdigit()
                or now - locator.last_used > self.locator_timeout
            ):
                if locator is not None and now - locator.last_used > self.locator_timeout:
                    del self.locators[key]
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            offset = int(offset_text)
            if offset >= len(locator.records):
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            locator.last_used = now
            self.locators.move_to_end(key)
            return self._batch(locator, key, offset, version=version, now=now)

    def _batch(self, locator: Locator, key: str | None, offset: int, *, version: str, now: float) -> dict[str, Any]:
        end = offset + locator.batch_size
        chunk = locator.records[offset:end]
        done = end >= len(locator.records)
        body: dict[str, Any] = {"totalSize": len(locator.records), "done": done}
        if not done:
            if key is None:
                key = "01g" + self.ids.new("01g")[3:15]
                self.locators[key] = locator
                owned = [k for k, v in self.locators.items() if v.owner == locator.owner]
                # Salesforce keeps a handful of open cursors per user and drops the oldest.
                for stale in owned[: max(len(owned) - self.max_open_locators, 0)]:
                    del self.locators[stale]
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{key}-{end}"
        elif key is not None:
            self.locators.pop(key, None)
        body["records"] = [self._project(locator.sobject, locator.columns, r, version) for r in chunk]
        return body

    def _project(self, obj: SObject, columns: list[Any], record: dict[str, Any], version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"attributes": self._attributes(obj, record["Id"], version)}
        for col in columns:
            if len(col.path) == 1:
                out[col.path[0]] = _soql.format_value(col.field, record.get(col.path[0]))
                continue
            # Parent fields nest under the relationship name, with their own attributes.
            current_obj, current = obj, record
            target = out
            for rel in col.path[:-1]:
                ref = current_obj.relationship(rel)
                assert ref is not None and ref.reference_to is not None
                parent_obj = SCHEMA[ref.reference_to]
                parent = self.resolve(parent_obj.name, current.get(ref.name) or "") if current else None
                if parent is None:
                    target[rel] = None
                    break
                nested = target.get(rel)
                if not isinstance(nested, dict):
                    nested = {"attributes": self._attributes(parent_obj, parent["Id"], version)}
                    target[rel] = nested
                target, current_obj, current = nested, parent_obj, parent
            else:
                target[col.path[-1]] = _soql.format_value(col.field, current.get(col.path[-1]))
        return out

    @staticmethod
    def _attributes(obj: SObject, record_id: str, version: str) -> dict[str, str]:
        return {"type": obj.name, "url": f"/services/data/{version}/sobjects/{obj.name}/{record_id}"}

    # -- records ------------------------------------------------------------------------------------
    def _lookup(self, obj: SObject, record_id: str) -> dict[str, Any]:
        if not is_record_id(record_id):
            raise ApiError(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {record_id}"
            )
        full = to_id18(record_id)
        if full in self.deleted:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        record = self.records[obj.name].get(full)
        if record is None:
            raise not_found()
        return record

    def get(self, name: str, record_id: str, *, version: str, fields: list[str] | None = None) -> dict[str, Any]:
        with self.lock:
            obj = self._visible(name)
            record = self._lookup(obj, record_id)
            return self._full(obj, record, version, fields)

    def _full(
        self, obj: SObject, record: dict[str, Any], version: str, fields: list[str] | None = None
    ) -> dict[str, Any]:
        if fields:
            chosen: list[Field] = []
            for name in fields:
                found = obj.field(name)
                if found is None:
                    raise ApiError(400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}")
                chosen.append(found)
        else:
            chosen = list(obj.fields.values())
        out: dict[str, Any] = {"attributes": self._attributes(obj, record["Id"], version)}
        for f in chosen:
            out[f.name] = _soql.format_value(f, record.get(f.name))
        return out

    def get_by_external_id(self, name: str, field_name: str, value: str, *, version: str) -> dict[str, Any]:
        with self.lock:
            obj = self._visible(name)
            f = obj.field(field_name)
            if f is None or not (f.external_id or f.name == "Id"):
                raise ApiError(
                    404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {field_name}"
                )
            matches = [
                r
                for r in self.records[obj.name].values()
                if r.get(f.name) is not None and str(r[f.name]).casefold() == value.casefold()
            ]
            if not matches:
                raise not_found()
            if len(matches) > 1:
                raise MultipleChoices([self._attributes(obj, r["Id"], version)["url"] for r in matches])
            return self._full(obj, matches[0], version)

    def create(self, name: str, body: Any, *, owner: str, now: datetime) -> str:
        with self.lock:
            obj = self._visible(name)
            if not obj.createable:
                raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be inserted: {obj.label}")
            self._check(obj, "create")
            values = self._validate(obj, body, creating=True)
            missing = [f for f in obj.required if values.get(f) is None]
            if missing:
                raise ApiError(
                    400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing
                )
            if "OwnerId" in obj.fields:
                values.setdefault("OwnerId", owner)
            self._derive(obj, values, None)
            self._unique(obj, values, None)
            record_id = self._insert_raw(obj.name, values, now)
            return record_id

    def update(self, name: str, record_id: str, body: Any, *, now: datetime) -> None:
        with self.lock:
            obj = self._visible(name)
            record = self._lookup(obj, record_id)
            if not obj.updateable:
                raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be updated: {obj.label}")
            self._check(obj, "edit")
            values = self._validate(obj, body, creating=False)
            cleared = [f for f, v in values.items() if v is None and not obj.fields[f].nillable]
            if cleared:
                raise ApiError(
                    400, "REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(cleared)}]", cleared
                )
            self._derive(obj, values, record)
            self._unique(obj, values, record["Id"])
            record.update(values)
            record["LastModifiedDate"] = record["SystemModstamp"] = now

    def save_many(self, body: Any, *, owner: str, now: datetime, creating: bool) -> list[dict[str, Any]]:
        """sObject Collections: create (``POST``) or update (``PATCH``) up to 200 records of one request.

        Each record names its object in ``attributes.type`` (updates also carry ``id``); the answer is one
        SaveResult per record, in input order. With ``allOrNone`` a failure rolls every record back.
        """
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize the request: expected {allOrNone, records}")
        records: list[Any] = body["records"]
        if len(records) > COLLECTION_LIMIT:
            raise ApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )
        all_or_none = bool(body.get("allOrNone", False))
        results: list[dict[str, Any]] = []
        with self.lock:
            snapshot = (
                {name: {k: dict(v) for k, v in rows.items()} for name, rows in self.records.items()}
                if all_or_none
                else {}
            )
            deleted = set(self.deleted)
            for record in records:
                record_id = record.get("id") if isinstance(record, dict) else None
                try:
                    results.append(self._save_one(record, owner=owner, now=now, creating=creating))
                except ApiError as exc:
                    failed: dict[str, Any] = {
                        "success": False,
                        "errors": [{"statusCode": exc.code, "message": exc.message, "fields": exc.fields}],
                    }
                    if not creating and isinstance(record_id, str):
                        failed["id"] = record_id
                    results.append(failed)
            if all_or_none and not all(r["success"] for r in results):
                self.records, self.deleted = snapshot, deleted
                rolled_back = {
                    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                    "message": "Record rolled back because not all records were valid and the request was using "
                    "AllOrNone header",
                    "fields": [],
                }
                results = [r if not r["success"] else {**r, "success": False, "errors": [rolled_back]} for r in results]
                for r in results:
                    if creating:
                        r.pop("id", None)  # a rolled-back insert has no record
        return results

    def _save_one(self, record: Any, *, owner: str, now: datetime, creating: bool) -> dict[str, Any]:
        if not isinstance(record, dict):
            raise ApiError(400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a non-object")
        attributes = record.get("attributes")
        kind = attributes.get("type") if isinstance(attributes, dict) else None
        if not isinstance(kind, str) or not kind:
            raise ApiError(400, "INVALID_TYPE", "Must send a concrete entity type.")
        if creating:
            return {"id": self.create(kind, record, owner=owner, now=now), "success": True, "errors": []}
        record_id = record.get("id")
        if not isinstance(record_id, str) or not is_record_id(record_id):
            raise ApiError(400, "MALFORMED_ID", f"Id in the record is not valid: {record_id!r}", ["Id"])
        self.update(kind, record_id, {k: v for k, v in record.items() if k != "id"}, now=now)
        return {"id": to_id18(record_id), "success": True, "errors": []}

    def delete(self, name: str, record_id: str) -> None:
        with self.lock:
            obj = self._visible(name)
            record = self._lookup(obj, record_id)
            if not obj.deletable:
                raise ApiError(400, "INVALID_TYPE_FOR_OPERATION", f"entity type cannot be deleted: {obj.label}")
            self._check(obj, "delete")
            del self.records[obj.name][record["Id"]]
            self.deleted.add(record["Id"])

    def _validate(self, obj: SObject, body: Any, *, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(
                400, "JSON_PARSER_ERROR", "Cannot deserialize instance of sObject from a value that is not an object"
            )
        values: dict[str, Any] = {}
        for key, raw in body.items():
            if key == "attributes":
                continue
            if key.lower() == "id":
                raise ApiError(400, "INVALID_FIELD", "The Id field should not be specified in the sobject data.")
            f = obj.field(key)
            if f is None:
                raise ApiError(400, "INVALID_FIELD", f"No such column '{key}' on sobject of type {obj.name}")
            if not (f.createable if creating else f.updateable):
                raise ApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {f.name}. Please check the security settings of this field "
                    "and verify that it is read/write for your profile or permission set.",
                    [f.name],
                )
            values[f.name] = self._coerce(f, raw)
        return values

    def _coerce(self, f: Field, raw: Any) -> Any:
        if raw is None:
            return None

        def parser_error() -> ApiError:
            return ApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {_soql._type_word(f)} from {type(raw).__name__} value {raw!r} "
                f"or request may be missing a required field at [field {f.name}]",
            )

        if f.type in ("reference", "id"):
            if not isinstance(raw, str) or not is_record_id(raw):
                raise ApiError(400, "MALFORMED_ID", f"{f.label}: id value of incorrect type: {raw}", [f.name])
            target = SCHEMA.get(f.reference_to or "")
            full = to_id18(raw)
            if target is None or sobject_for_id(full) is not target or full not in self.records[target.name]:
                raise ApiError(400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [f.name])
            return full
        if f.type in STRING_TYPES:
            if isinstance(raw, (dict, list)):
                raise parser_error()
            text = str(raw).lower() if isinstance(raw, bool) else str(raw)
            if f.name == "StageName":
                stage = self._stage(text)
                if stage is None:
                    raise ApiError(
                        400,
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        f"bad value for restricted picklist field: {text}",
                        [f.name],
                    )
                return stage["ApiName"]
            return text
        if f.type in NUMBER_TYPES:
            if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
                raise parser_error()
            try:
                number = Decimal(str(raw))
            except InvalidOperation:
                raise parser_error() from None
            if f.type == "int":
                if number != number.to_integral_value():
                    raise parser_error()
                return int(number)
            return number
        if f.type == "boolean":
            if not isinstance(raw, bool):
                raise parser_error()
            return raw
        if f.type == "date":
            try:
                return date.fromisoformat(str(raw)[:10]) if isinstance(raw, str) else _raise(parser_error())
            except ValueError:
                raise parser_error() from None
        if f.type == "datetime":
            try:
                return _soql._parse_datetime(str(raw)) if isinstance(raw, str) else _raise(parser_error())
            except ValueError:
                raise parser_error() from None
        return raw

    def _stage(self, value: str) -> dict[str, Any] | None:
        lowered = value.casefold()
        return next(
            (
                s
                for s in self.records["OpportunityStage"].values()
                if s["ApiName"].casefold() == lowered or s["MasterLabel"].casefold() == lowered
            ),
            None,
        )

    def _derive(self, obj: SObject, values: dict[str, Any], existing: dict[str, Any] | None) -> None:
        if obj.name == "Opportunity" and "StageName" in values:
            stage = self._stage(values["StageName"])
            assert stage is not None
            values["IsClosed"], values["IsWon"] = stage["IsClosed"], stage["IsWon"]
            changed = existing is None or existing.get("StageName") != values["StageName"]
            if "Probability" not in values and changed:
                values["Probability"] = stage["DefaultProbability"]
        if "Name" in obj.fields and not obj.fields["Name"].createable:
            first = values.get("FirstName", existing.get("FirstName") if existing else None)
            last = values.get("LastName", existing.get("LastName") if existing else None)
            values["Name"] = " ".join(p for p in (first, last) if p)

    def _unique(self, obj: SObject, values: dict[str, Any], own_id: str | None) -> None:
        for f in obj.fields.values():
            if not f.unique or values.get(f.name) is None:
                continue
            wanted = str(values[f.name]).casefold()
            for other in self.records[obj.name].values():
                if other["Id"] != own_id and other.get(f.name) is not None and str(other[f.name]).casefold() == wanted:
                    raise ApiError(
                        400,
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {f.name} duplicates value on record with id: {other['Id']}",
                    )

    def describe(self, name: str, *, version: str) -> dict[str, Any]:
        with self.lock:
            obj = self._visible(name)
            return {
                "name": obj.name,
                "label": obj.label,
                "keyPrefix": obj.key_prefix,
                "custom": False,
                "createable": obj.createable and self.can(obj.name, "create"),
                "updateable": obj.updateable and self.can(obj.name, "edit"),
                "deletable": obj.deletable and self.can(obj.name, "delete"),
                "queryable": True,
                "urls": {"sobject": f"/services/data/{version}/sobjects/{obj.name}"},
                "fields": [
                    {
                        "name": f.name,
                        "label": f.label or f.name,
                        "type": f.type,
                        "custom": f.custom,
                        "createable": f.createable,
                        "updateable": f.updateable,
                        "nillable": f.nillable,
                        "unique": f.unique,
                        "externalId": f.external_id,
                        "referenceTo": [f.reference_to] if f.reference_to else [],
                        "relationshipName": f.relationship_name,
                    }
                    for f in obj.fields.values()
                ],
            }


def _raise(error: Exception) -> Any:
    raise error
