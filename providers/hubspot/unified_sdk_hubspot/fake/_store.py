"""The fake's in-memory CRM: objects with typed properties, associations, owners and pipelines.

Values are kept as HubSpot returns them: every property value is a string (or
``None``), timestamps are ISO 8601 in UTC with milliseconds.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

OBJECT_TYPES = ("deals", "contacts", "companies")

#: Object type ids HubSpot also accepts in paths (``/crm/v3/objects/0-3``).
TYPE_IDS = {"0-1": "contacts", "0-2": "companies", "0-3": "deals"}

#: The property holding the last-modified time, per object type.
MODIFIED_PROPERTY = {"deals": "hs_lastmodifieddate", "contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}

#: Association type ids (HUBSPOT_DEFINED) -> (from type, to type).
ASSOCIATION_TYPES: Mapping[int, tuple[str, str]] = {
    1: ("contacts", "companies"),
    279: ("contacts", "companies"),
    2: ("companies", "contacts"),
    280: ("companies", "contacts"),
    3: ("deals", "contacts"),
    4: ("contacts", "deals"),
    5: ("deals", "companies"),
    341: ("deals", "companies"),
    6: ("companies", "deals"),
    342: ("companies", "deals"),
}

_SINGULAR = {"deals": "deal", "contacts": "contact", "companies": "company"}


def association_label(from_type: str, to_type: str) -> str:
    """HubSpot's association type name, e.g. ``deal_to_contact``."""
    return f"{_SINGULAR[from_type]}_to_{_SINGULAR[to_type]}"


@dataclass(frozen=True, slots=True)
class PropertyDef:
    name: str
    type: str = "string"
    """``string``, ``number``, ``datetime``, ``date``, ``enumeration`` or ``bool``."""
    read_only: bool = False
    options: tuple[str, ...] | None = None
    custom: bool = False


def _props(*defs: PropertyDef) -> dict[str, PropertyDef]:
    return {d.name: d for d in defs}


_COMMON = (
    PropertyDef("createdate", "datetime", read_only=True),
    PropertyDef("hs_object_id", "number", read_only=True),
    PropertyDef("hubspot_owner_id", "enumeration"),
)

STANDARD_PROPERTIES: Mapping[str, Mapping[str, PropertyDef]] = {
    "deals": _props(
        *_COMMON,
        PropertyDef("hs_lastmodifieddate", "datetime", read_only=True),
        PropertyDef("dealname"),
        PropertyDef("amount", "number"),
        PropertyDef("deal_currency_code", "enumeration"),
        PropertyDef("dealstage", "enumeration"),
        PropertyDef("pipeline", "enumeration"),
        PropertyDef("closedate", "datetime"),
        PropertyDef("hs_deal_stage_probability", "number", read_only=True),
        PropertyDef("hs_closed_won_date", "datetime", read_only=True),
        PropertyDef("closed_won_reason"),
        PropertyDef("closed_lost_reason"),
        PropertyDef("dealtype", "enumeration", options=("newbusiness", "existingbusiness")),
        PropertyDef("description"),
        PropertyDef("hs_analytics_source", "enumeration"),
    ),
    "contacts": _props(
        *_COMMON,
        PropertyDef("lastmodifieddate", "datetime", read_only=True),
        PropertyDef("email"),
        PropertyDef("firstname"),
        PropertyDef("lastname"),
        PropertyDef("phone"),
        PropertyDef("mobilephone"),
        PropertyDef("jobtitle"),
        PropertyDef("company"),
        PropertyDef("address"),
        PropertyDef("city"),
        PropertyDef("state"),
        PropertyDef("zip"),
        PropertyDef("country"),
        PropertyDef("website"),
        PropertyDef("lifecyclestage", "enumeration"),
    ),
    "companies": _props(
        *_COMMON,
        PropertyDef("hs_lastmodifieddate", "datetime", read_only=True),
        PropertyDef("name"),
        PropertyDef("domain"),
        PropertyDef("website"),
        PropertyDef("industry", "enumeration"),
        PropertyDef("numberofemployees", "number"),
        PropertyDef("phone"),
        PropertyDef("address"),
        PropertyDef("address2"),
        PropertyDef("city"),
        PropertyDef("state"),
        PropertyDef("zip"),
        PropertyDef("country"),
        PropertyDef("description"),
    ),
}

#: What list/get return when the caller names no properties.
DEFAULT_PROPERTIES: Mapping[str, tuple[str, ...]] = {
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def iso_from_ms(ms: int) -> str:
    """``2024-01-15T10:20:30.123Z`` from epoch milliseconds."""
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ms_from_value(value: Any) -> int | None:
    """Epoch milliseconds from epoch-ms digits, an ISO datetime or an ISO date; ``None`` if unreadable."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    # Exact: float seconds times 1000 can fall just below the millisecond (``.298`` -> 297).
    return (dt - _EPOCH) // timedelta(milliseconds=1)


def now_ms() -> int:
    return int(time.time() * 1000)


class PropertyError(Exception):
    """One or more property values were not valid (HubSpot's VALIDATION_ERROR)."""

    def __init__(self, problems: Sequence[Mapping[str, Any]]) -> None:
        super().__init__("Property values were not valid")
        self.problems = list(problems)

    def body(self, correlation_id: str) -> dict[str, Any]:
        # HubSpot embeds the per-property results as JSON inside the message.
        return {
            "status": "error",
            "message": "Property values were not valid: " + json.dumps(self.problems, separators=(",", ":")),
            "correlationId": correlation_id,
            "category": "VALIDATION_ERROR",
        }


class ConflictError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(slots=True)
class Record:
    id: int
    properties: dict[str, str | None]
    created_at: str
    updated_at: str
    archived: bool = False
    associations: dict[str, list[int]] = field(default_factory=dict)


@dataclass(slots=True)
class Owner:
    id: str
    email: str
    first_name: str
    last_name: str
    user_id: int
    created_at: str
    updated_at: str
    archived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
            "teams": [],
        }


def _stage(id: str, label: str, order: int, probability: str, closed: bool, created: str) -> dict[str, Any]:
    return {
        "id": id,
        "label": label,
        "displayOrder": order,
        "metadata": {"isClosed": "true" if closed else "false", "probability": probability},
        "createdAt": created,
        "updatedAt": created,
        "archived": False,
        "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
    }


def default_pipelines(created: str) -> list[dict[str, Any]]:
    """HubSpot's default sales pipeline plus a second one with numeric stage ids, as accounts have."""
    return [
        {
            "id": "default",
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "createdAt": created,
            "updatedAt": created,
            "archived": False,
            "stages": [
                _stage("appointmentscheduled", "Appointment Scheduled", 0, "0.2", False, created),
                _stage("qualifiedtobuy", "Qualified To Buy", 1, "0.4", False, created),
                _stage("presentationscheduled", "Presentation Scheduled", 2, "0.6", False, created),
                _stage("decisionmakerboughtin", "Decision Maker Bought-In", 3, "0.8", False, created),
                _stage("contractsent", "Contract Sent", 4, "0.9", False, created),
                _stage("closedwon", "Closed Won", 5, "1.0", True, created),
                _stage("closedlost", "Closed Lost", 6, "0.0", True, created),
            ],
        },
        {
            "id": "75219553",
            "label": "Renewals",
            "displayOrder": 1,
            "createdAt": created,
            "updatedAt": created,
            "archived": False,
            "stages": [
                _stage("151412245", "Renewal Due", 0, "0.5", False, created),
                _stage("151412246", "Renewal Negotiation", 1, "0.75", False, created),
                _stage("151412247", "Renewed", 2, "1.0", True, created),
                _stage("151412248", "Churned", 3, "0.0", True, created),
            ],
        },
    ]


class Store:
    """Thread-safe in-memory CRM data of one fake HubSpot account."""

    def __init__(self, *, seed: int = 4) -> None:
        self.lock = threading.RLock()
        self.random = random.Random(seed)
        self.records: dict[str, dict[int, Record]] = {t: {} for t in OBJECT_TYPES}
        self.order: dict[str, list[int]] = {t: [] for t in OBJECT_TYPES}
        self.properties: dict[str, dict[str, PropertyDef]] = {t: dict(STANDARD_PROPERTIES[t]) for t in OBJECT_TYPES}
        self._next_id = 1001
        created = iso_from_ms(1_600_000_000_000)
        self.pipelines = default_pipelines(created)
        self.owners = [
            Owner(str(90_000_001 + i), f"{first.lower()}@example.com", first, last, 7_000_001 + i, created, created)
            for i, (first, last) in enumerate(
                [
                    ("Ada", "Lovelace"),
                    ("Grace", "Hopper"),
                    ("Alan", "Turing"),
                    ("Edsger", "Dijkstra"),
                    ("Barbara", "Liskov"),
                ]
            )
        ]
        self.owners.append(
            Owner("90000099", "former@example.com", "Former", "Employee", 7_000_099, created, created, True)
        )
        self.add_property("deals", "customer_tier", "enumeration", options=("gold", "silver", "bronze"))
        self.add_property("deals", "renewal_notes")
        self.add_property("contacts", "favourite_colour")
        self.add_property("companies", "account_health", "number")

    # -- schema ----------------------------------------------------------------------------
    def add_property(
        self, object_type: str, name: str, type: str = "string", *, options: Iterable[str] | None = None
    ) -> None:
        """Define a custom property (as an account admin would in HubSpot's settings)."""
        with self.lock:
            self.properties[object_type][name] = PropertyDef(
                name, type, options=tuple(options) if options is not None else None, custom=True
            )

    def stage_ids(self, pipeline_id: str) -> dict[str, dict[str, Any]] | None:
        for p in self.pipelines:
            if p["id"] == pipeline_id:
                return {s["id"]: s for s in p["stages"]}
        return None

    # -- records -----------------------------------------------------------------------------
    def new_id(self) -> int:
        with self.lock:
            value = self._next_id
            self._next_id += 1 + self.random.randrange(3)
            return value

    def get(self, object_type: str, record_id: str | int) -> Record | None:
        try:
            key = int(record_id)
        except (TypeError, ValueError):
            return None
        rec = self.records[object_type].get(key)
        return rec if rec is not None and not rec.archived else None

    def page(self, object_type: str, after: int | None, limit: int) -> tuple[list[Record], int | None]:
        """Records in id order from ``after`` (inclusive), and the next ``after`` if more remain."""
        with self.lock:
            order = self.order[object_type]
            records = self.records[object_type]
            start = 0 if after is None else bisect_left(order, after)
            found: list[Record] = []
            i = start
            while i < len(order) and len(found) < limit:
                rec = records[order[i]]
                if not rec.archived:
                    found.append(rec)
                i += 1
            while i < len(order) and records[order[i]].archived:
                i += 1
            return found, (order[i] if i < len(order) else None)

    def clear(self) -> None:
        """Remove every deal, contact and company (ids are not reused)."""
        with self.lock:
            for object_type in OBJECT_TYPES:
                self.records[object_type] = {}
                self.order[object_type] = []

    def live(self, object_type: str) -> list[Record]:
        with self.lock:
            records = self.records[object_type]
            return [records[i] for i in self.order[object_type] if not records[i].archived]

    def insert(
        self,
        object_type: str,
        properties: Mapping[str, str | None],
        *,
        created_ms: int | None = None,
        modified_ms: int | None = None,
        record_id: int | None = None,
    ) -> Record:
        created = now_ms() if created_ms is None else created_ms
        modified = created if modified_ms is None else modified_ms
        rid = self.new_id() if record_id is None else record_id
        props: dict[str, str | None] = dict(properties)
        props["hs_object_id"] = str(rid)
        props["createdate"] = iso_from_ms(created)
        props[MODIFIED_PROPERTY[object_type]] = iso_from_ms(modified)
        if object_type == "deals":
            self._derive_deal(props)
        rec = Record(rid, props, iso_from_ms(created), iso_from_ms(modified))
        with self.lock:
            self.records[object_type][rid] = rec
            self.order[object_type].append(rid)
            if len(self.order[object_type]) > 1 and self.order[object_type][-2] > rid:
                self.order[object_type].sort()
        return rec

    def touch(self, object_type: str, rec: Record, modified_ms: int | None = None) -> None:
        ms = now_ms() if modified_ms is None else modified_ms
        rec.updated_at = iso_from_ms(ms)
        rec.properties[MODIFIED_PROPERTY[object_type]] = rec.updated_at

    def update(self, object_type: str, rec: Record, properties: Mapping[str, str | None]) -> None:
        with self.lock:
            rec.properties.update(properties)
            if object_type == "deals":
                self._derive_deal(rec.properties)
            self.touch(object_type, rec)

    def archive(self, object_type: str, rec: Record) -> None:
        with self.lock:
            rec.archived = True
            self.touch(object_type, rec)
            for to_type, ids in rec.associations.items():
                for other_id in ids:
                    other = self.records[to_type].get(other_id)
                    if other is not None and rec.id in other.associations.get(object_type, []):
                        other.associations[object_type].remove(rec.id)

    def associate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        with self.lock:
            a = self.records[from_type][from_id]
            b = self.records[to_type][to_id]
            ids = a.associations.setdefault(to_type, [])
            if to_id not in ids:
                ids.append(to_id)
            back = b.associations.setdefault(from_type, [])
            if from_id not in back:
                back.append(from_id)

    def dissociate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        """Remove every association between two records (both directions)."""
        with self.lock:
            for a_type, a_id, b_type, b_id in (
                (from_type, from_id, to_type, to_id),
                (to_type, to_id, from_type, from_id),
            ):
                rec = self.records[a_type].get(a_id)
                ids = rec.associations.get(b_type) if rec is not None else None
                if ids and b_id in ids:
                    ids.remove(b_id)

    def _derive_deal(self, props: dict[str, str | None]) -> None:
        pipeline = props.get("pipeline") or "default"
        props["pipeline"] = pipeline
        stages = self.stage_ids(pipeline) or {}
        stage = stages.get(props.get("dealstage") or "")
        if stage is not None:
            props["hs_deal_stage_probability"] = stage["metadata"]["probability"]

    # -- validation ----------------------------------------------------------------------------
    def validate(
        self, object_type: str, properties: Mapping[str, Any], *, existing: Record | None = None
    ) -> dict[str, str | None]:
        """Check and normalise written properties; :class:`PropertyError` lists every bad one."""
        defs = self.properties[object_type]
        clean: dict[str, str | None] = {}
        problems: list[dict[str, Any]] = []

        def bad(name: str, error: str, message: str) -> None:
            problems.append(
                {"isValid": False, "message": message, "error": error, "name": name, "localizedErrorMessage": message}
            )

        for name, value in properties.items():
            d = defs.get(name)
            if d is None:
                bad(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                continue
            if d.read_only:
                bad(name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.')
                continue
            if value is None or value == "":
                clean[name] = None if value is None else ""
                continue
            if isinstance(value, bool):
                text = "true" if value else "false"
            elif isinstance(value, dict | list):
                bad(name, "INVALID_TYPE", f"{value!r} is not a valid value for {name}")
                continue
            else:
                text = str(value)
            if d.type == "number":
                try:
                    Decimal(text)
                except InvalidOperation:
                    bad(name, "INVALID_DECIMAL", f"{text} was not a valid number.")
                    continue
            elif d.type in ("datetime", "date"):
                ms = ms_from_value(text)
                if ms is None:
                    bad(name, "INVALID_DATE", f"{text} was not a valid long or ISO 8601 date.")
                    continue
                text = iso_from_ms(ms) if d.type == "datetime" else iso_from_ms(ms)[:10]
            elif d.options is not None and text not in d.options:
                bad(name, "INVALID_OPTION", f"{text} was not one of the allowed options: {', '.join(d.options)}")
                continue
            if name == "email" and not _EMAIL.match(text):
                bad(name, "INVALID_EMAIL", f"Email address {text} is invalid")
                continue
            if name == "hubspot_owner_id" and not any(o.id == text and not o.archived for o in self.owners):
                bad(name, "INVALID_OWNER_ID", f"{text} is not a valid owner id")
                continue
            clean[name] = text

        if object_type == "deals" and ("dealstage" in clean or "pipeline" in clean):
            current = existing.properties if existing is not None else {}
            pipeline = clean.get("pipeline") or current.get("pipeline") or "default"
            stage = clean.get("dealstage") or current.get("dealstage")
            stages = self.stage_ids(pipeline)
            if stages is None:
                bad("pipeline", "INVALID_OPTION", f"{pipeline} was not one of the allowed options")
            elif stage is not None and stage not in stages:
                bad("dealstage", "INVALID_OPTION", f"{stage} was not one of the allowed options: {', '.join(stages)}")
        if problems:
            raise PropertyError(problems)
        if object_type == "contacts" and clean.get("email"):
            email = str(clean["email"]).lower()
            for rec in self.live("contacts"):
                if rec is not existing and (rec.properties.get("email") or "").lower() == email:
                    raise ConflictError(f"Contact already exists. Existing ID: {rec.id}")
        return clean

    # -- seeding -------------------------------------------------------------------------------
    def seed(self, *, deals: int = 0, contacts: int = 0, companies: int = 0, base_ms: int = 1_700_000_000_000) -> None:
        """Add generated records; deals are associated with the contacts and companies that exist.

        Modification times step by one second every three records, so ties occur
        (as they do in real accounts where imports touch many records at once).
        """
        rnd = self.random
        owners = [o.id for o in self.owners if not o.archived]
        with self.lock:
            start = sum(len(v) for v in self.order.values())
            for i in range(companies):
                n = start + i
                self.insert(
                    "companies",
                    {
                        "name": f"Company {n}",
                        "domain": f"company{n}.example.com",
                        "website": f"https://company{n}.example.com",
                        "industry": rnd.choice(["COMPUTER_SOFTWARE", "RETAIL", "BANKING", None]),
                        "numberofemployees": str(rnd.randrange(1, 5000)),
                        "city": rnd.choice(["Berlin", "Boston", "Dublin"]),
                        "country": rnd.choice(["Germany", "United States", "Ireland"]),
                        "hubspot_owner_id": rnd.choice(owners),
                        "account_health": str(rnd.randrange(0, 100)),
                    },
                    created_ms=base_ms + n * 1000,
                    modified_ms=base_ms + 10**8 + (n // 3) * 1000,
                )
            company_ids = [r.id for r in self.live("companies")]
            for i in range(contacts):
                n = start + companies + i
                rec = self.insert(
                    "contacts",
                    {
                        "email": f"person{n}@example.com",
                        "firstname": f"First{n}",
                        "lastname": f"Last{n}",
                        "phone": f"+1 555 {n:07d}",
                        "jobtitle": rnd.choice(["CTO", "Buyer", "Engineer", None]),
                        "city": rnd.choice(["Berlin", "Boston", "Dublin"]),
                        "hubspot_owner_id": rnd.choice(owners),
                        "favourite_colour": rnd.choice(["red", "green", "blue"]),
                    },
                    created_ms=base_ms + n * 1000,
                    modified_ms=base_ms + 10**8 + (n // 3) * 1000,
                )
                if company_ids:
                    self.associate("contacts", rec.id, "companies", rnd.choice(company_ids))
            contact_ids = [r.id for r in self.live("contacts")]
            pipeline_choices = [(p["id"], [s["id"] for s in p["stages"]]) for p in self.pipelines]
            for i in range(deals):
                n = start + companies + contacts + i
                pipeline, stages = pipeline_choices[0] if rnd.random() < 0.8 else pipeline_choices[1]
                cents = rnd.randrange(0, 10_000_000)
                amount = f"{cents // 100}.{cents % 100:02d}" if i % 7 else f"{cents // 100}"
                rec = self.insert(
                    "deals",
                    {
                        "dealname": f"Deal {n}",
                        "amount": amount if i % 11 else "0.1",
                        "deal_currency_code": rnd.choice(["USD", "EUR", "GBP"]),
                        "pipeline": pipeline,
                        "dealstage": rnd.choice(stages),
                        "closedate": iso_from_ms(base_ms + rnd.randrange(0, 10**10)),
                        "hubspot_owner_id": rnd.choice(owners),
                        "customer_tier": rnd.choice(["gold", "silver", "bronze", None]),
                    },
                    created_ms=base_ms + n * 1000,
                    modified_ms=base_ms + 10**8 + (n // 3) * 1000,
                )
                if contact_ids:
                    for cid in rnd.sample(contact_ids, min(len(contact_ids), rnd.randrange(1, 3))):
                        self.associate("deals", rec.id, "contacts", cid)
                if company_ids:
                    self.associate("deals", rec.id, "companies", rnd.choice(company_ids))
