"""The sandbox CRM's data: deterministic seeding, storage with keyset pagination, and write validation.

Records are stored in the sandbox's own shapes (not the unified ones). Each
collection keeps its records in creation order with a sequence number, so a
cursor ("after sequence N") walks every record exactly once even while
records are added or deleted, and caches each record's JSON so listing pages
costs little more than joining bytes.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
import random
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_LIMIT = 100
DEFAULT_LIMIT = 25


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST = _words(
    "Maya Liam Noah Emma Olivia Ava Sophia Lucas Mateo Amara Kenji Priya Omar Elena Jonas Freya Ravi "
    "Chloe Diego Hana Tomas Ingrid Kwame Lea Yusuf Mei Aaron Nadia Felix Zara Hugo Alma Ivan Sara Theo "
    "Lina Marco"
)
_LAST = _words(
    "Chen Okafor Schmidt Garcia Rossi Novak Tanaka Patel Haddad Silva Johansson Dubois Kowalski Nguyen "
    "Muller Costa Andersen Moreau Ivanova Kim Fischer Romero Nakamura Osei Larsen Haas Berg Lopez Varga "
    "Adeyemi"
)
_WORDS_A = _words(
    "North Blue Bright Summit Iron Silver Cedar Harbor Quantum Atlas Nova Pioneer Granite Meadow Vector "
    "Polar Crimson Golden Lumen Orbit Evergreen Falcon Coral Maple Zenith"
)
_WORDS_B = _words(
    "Analytics Logistics Foods Robotics Health Systems Labs Energy Media Retail Capital Networks Studio "
    "Bio Motors Works Cloud Partners Dynamics Supply"
)
_SUFFIX = ("Inc.", "Ltd", "GmbH", "LLC", "SA", "BV", "")
_INDUSTRIES = (
    "Software",
    "Manufacturing",
    "Healthcare",
    "Financial Services",
    "Retail",
    "Logistics",
    "Energy",
    "Education",
    "Media",
    "Hospitality",
)
_TITLES = (
    "CEO",
    "CTO",
    "VP Sales",
    "Head of Operations",
    "Procurement Manager",
    "IT Director",
    "Office Manager",
    "Marketing Lead",
    "Finance Controller",
    "Engineer",
)
_DEPARTMENTS = ("Executive", "Sales", "Operations", "IT", "Finance", "Marketing", "Engineering", "Procurement")
_CITIES = (
    ("San Francisco", "California", "CA", "94107", "United States", "US"),
    ("Austin", "Texas", "TX", "78701", "United States", "US"),
    ("Toronto", "Ontario", "ON", "M5V 2T6", "Canada", "CA"),
    ("Berlin", "Berlin", "BE", "10115", "Germany", "DE"),
    ("Lyon", "Auvergne-Rhone-Alpes", "ARA", "69002", "France", "FR"),
    ("Manchester", "England", "ENG", "M1 1AE", "United Kingdom", "GB"),
    ("Sydney", "New South Wales", "NSW", "2000", "Australia", "AU"),
    ("Sao Paulo", "Sao Paulo", "SP", "01310-100", "Brazil", "BR"),
)
_STREETS = ("Market St", "Main Street", "Harbour Road", "King St W", "Invalidenstrasse", "Rue de la Republique")
_SOURCES = ("Website", "Referral", "Webinar", "Outbound", "Trade show", "Partner")
_LABELS = ("hot", "enterprise", "smb", "renewal", "upsell", "at-risk", "strategic")
_WON = ("Best price", "Feature fit", "Existing relationship", "Fast onboarding")
_LOST = ("Chose a competitor", "No budget", "No decision", "Timing", "Missing feature")
_CURRENCIES = ("USD", "USD", "USD", "EUR", "EUR", "GBP", "CAD")
_REGIONS = ("NA", "EMEA", "APAC", "LATAM")

SCOPES = (
    "deals:read",
    "deals:write",
    "contacts:read",
    "contacts:write",
    "companies:read",
    "companies:write",
    "pipelines:read",
    "users:read",
    "webhooks:manage",
)

#: Seeded timestamps fall before this instant, so anything written at run time is newer.
SEED_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def iso(value: datetime) -> str:
    """The sandbox timestamp format: UTC, milliseconds, ``Z`` (so strings sort chronologically)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(datetime.now(UTC))


def parse_timestamp(value: str) -> datetime:
    """An ISO-8601 timestamp; naive ones are taken as UTC."""
    parsed = datetime.fromisoformat(value.strip().replace(" ", "+"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# -- errors raised by the store; the app turns them into error bodies --------------------------


class ApiError(Exception):
    """An error the API answers with its own body: ``{"error": {"type", "message", ...}}``."""

    def __init__(self, status: int, type: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.type = type
        self.message = message
        self.extra = extra


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    code: str
    message: str

    def as_json(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def validation_failed(errors: list[FieldError]) -> ApiError:
    fields = ", ".join(e.field for e in errors)
    return ApiError(422, "validation_failed", f"The record is invalid: {fields}.", fields=[e.as_json() for e in errors])


# -- collections with keyset pagination ---------------------------------------------------------


class Collection:
    """One resource's records, in creation order, with cached JSON."""

    def __init__(self, name: str, render: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.name = name
        self.records: dict[str, dict[str, Any]] = {}
        self._render = render
        self._seqs: list[int] = []
        self._ids: list[str] = []
        self._seq_of: dict[str, int] = {}
        self._json: dict[str, bytes] = {}
        self._next = 1

    def __len__(self) -> int:
        return len(self.records)

    def add(self, record: dict[str, Any]) -> None:
        rid = record["id"]
        seq = self._next
        self._next += 1
        self.records[rid] = record
        self._seqs.append(seq)
        self._ids.append(rid)
        self._seq_of[rid] = seq

    def remove(self, rid: str) -> None:
        seq = self._seq_of.pop(rid)
        index = bisect.bisect_left(self._seqs, seq)
        del self._seqs[index]
        del self._ids[index]
        del self.records[rid]
        self._json.pop(rid, None)

    def changed(self, rid: str) -> None:
        self._json.pop(rid, None)

    def invalidate(self) -> None:
        self._json.clear()

    def render(self, rid: str) -> dict[str, Any]:
        return self._render(self.records[rid])

    def json_of(self, rid: str) -> bytes:
        found = self._json.get(rid)
        if found is None:
            found = json.dumps(self._render(self.records[rid]), separators=(",", ":")).encode()
            self._json[rid] = found
        return found

    def page(self, after: int, limit: int, updated_since: str | None) -> tuple[list[bytes], int | None]:
        """Up to ``limit`` records after sequence ``after``; and the last sequence when more follow."""
        start = bisect.bisect_right(self._seqs, after)
        ids, seqs, records = self._ids, self._seqs, self.records
        out: list[bytes] = []
        last = after
        i = start
        n = len(ids)
        if updated_since is None:
            end = min(start + limit, n)
            out = [self.json_of(ids[j]) for j in range(start, end)]
            if end < n:
                return out, seqs[end - 1]
            return out, None
        while i < n and len(out) < limit:
            rid = ids[i]
            if records[rid]["updated_at"] >= updated_since:
                out.append(self.json_of(rid))
                last = seqs[i]
            i += 1
        while i < n:
            if records[ids[i]]["updated_at"] >= updated_since:
                return out, last
            i += 1
        return out, None


def encode_cursor(collection: str, after: int, updated_since: str | None) -> str:
    raw = json.dumps({"c": collection, "a": after, "u": updated_since}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(collection: str, cursor: str) -> tuple[int, str | None]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if data["c"] != collection or not isinstance(data["a"], int):
            raise ValueError
        since = data.get("u")
        if since is not None and not isinstance(since, str):
            raise ValueError
        return int(data["a"]), since
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(
            400, "invalid_cursor", "The cursor is invalid or belongs to another list.", param="cursor"
        ) from None


SEARCH_PARAMS: Mapping[str, frozenset[str]] = {
    "deals": frozenset(
        {"updated_since", "created_since", "stage_id", "pipeline_id", "owner_id", "company_id", "contact_id", "q"}
    ),
    "contacts": frozenset({"updated_since", "email", "company_id", "owner_id", "q"}),
    "companies": frozenset({"updated_since", "owner_id", "q"}),
}
"""The query parameters each list endpoint filters by (besides ``limit``, ``cursor`` and ``sort``)."""

SORTS = frozenset({"created_at", "updated_at", "name"})
"""What ``sort`` may name (``-name`` for descending)."""


def _text(name: str, record: Mapping[str, Any]) -> str:
    """What the free-text ``q`` parameter searches: names, and a contact's emails or a company's domain."""
    if name == "deals":
        return str(record.get("title") or "")
    if name == "contacts":
        parts = [record.get("first_name"), record.get("last_name"), *(e["address"] for e in record["emails"])]
        return " ".join(str(p) for p in parts if p)
    return f"{record.get('name') or ''} {record.get('domain') or ''}"


def _sort_value(name: str, record: Mapping[str, Any], key: str) -> str | None:
    if key != "name":
        value: str | None = record.get(key)
        return value
    if name == "deals":
        return record.get("title")
    if name == "contacts":
        full = " ".join(p for p in (record.get("first_name"), record.get("last_name")) if p)
        return full or None
    return record.get("name")


def encode_search_cursor(collection: str, offset: int, search: Mapping[str, str]) -> str:
    raw = json.dumps({"c": collection, "o": offset, "s": dict(search)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def is_search_cursor(cursor: str) -> bool:
    """Whether ``cursor`` continues a filtered or sorted listing (it carries its search)."""
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        return False
    return isinstance(data, dict) and "s" in data


def decode_search_cursor(collection: str, cursor: str) -> tuple[int, dict[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if data["c"] != collection or not isinstance(data["o"], int) or not isinstance(data["s"], dict):
            raise ValueError
        return int(data["o"]), {str(k): str(v) for k, v in data["s"].items()}
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(
            400, "invalid_cursor", "The cursor is invalid or belongs to another list.", param="cursor"
        ) from None


# -- the store -----------------------------------------------------------------------------------


class SandboxData:
    """The sandbox account's data and the rules for changing it (thread-safe)."""

    def __init__(self, *, deals: int = 2500, contacts: int = 1000, companies: int = 300, seed: int = 7) -> None:
        self.lock = threading.RLock()
        self.seed_value = seed
        self.users: dict[str, dict[str, Any]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {}
        self.stages: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
        self.deals = Collection("deals", self._render_deal)
        self.contacts = Collection("contacts", self._render_contact)
        self.companies = Collection("companies", self._render_company)
        self.account = {"id": "acc_sandbox", "name": "Sandbox Trading Co.", "plan": "growth"}
        self._rng = random.Random(seed)
        self._id_rng = random.Random(seed + 1)
        self._pipelines_json = b""
        self._users_json = b""
        self.generate(deals=deals, contacts=contacts, companies=companies, seed=seed)

    def collection(self, name: str) -> Collection:
        return {"deals": self.deals, "contacts": self.contacts, "companies": self.companies}[name]

    # -- seeding --------------------------------------------------------------------------------
    def generate(self, *, deals: int, contacts: int, companies: int, seed: int | None = None) -> None:
        """Replace the whole data set with a freshly seeded one (same seed: same data)."""
        if min(deals, contacts, companies) < 0:
            raise ValueError("counts must be >= 0")
        with self.lock:
            self.seed_value = self.seed_value if seed is None else seed
            rng = self._rng = random.Random(self.seed_value)
            self._id_rng = random.Random(self.seed_value + 1)
            self.deals = Collection("deals", self._render_deal)
            self.contacts = Collection("contacts", self._render_contact)
            self.companies = Collection("companies", self._render_company)
            self._seed_users(rng)
            self._seed_pipelines(rng)
            user_ids = list(self.users)
            for _ in range(companies):
                self.companies.add(self._seed_company(rng, user_ids))
            company_ids = list(self.companies.records)
            for _ in range(contacts):
                self.contacts.add(self._seed_contact(rng, user_ids, company_ids))
            contact_ids = list(self.contacts.records)
            for _ in range(deals):
                self.deals.add(self._seed_deal(rng, user_ids, company_ids, contact_ids))

    def add(self, *, deals: int = 0, contacts: int = 0, companies: int = 0) -> None:
        """Add freshly seeded records to the data set (:meth:`generate` replaces it)."""
        if min(deals, contacts, companies) < 0:
            raise ValueError("counts must be >= 0")
        with self.lock:
            rng = self._rng
            user_ids = list(self.users)
            for _ in range(companies):
                self.companies.add(self._seed_company(rng, user_ids))
            company_ids = list(self.companies.records)
            for _ in range(contacts):
                self.contacts.add(self._seed_contact(rng, user_ids, company_ids))
            contact_ids = list(self.contacts.records)
            for _ in range(deals):
                self.deals.add(self._seed_deal(rng, user_ids, company_ids, contact_ids))

    def new_id(self, prefix: str) -> str:
        alphabet = "0123456789abcdefghijklmnopqrstuvwxyz"
        with self.lock:
            while True:
                rid = prefix + "".join(self._id_rng.choices(alphabet, k=10))
                if (
                    rid not in self.deals.records
                    and rid not in self.contacts.records
                    and (rid not in self.companies.records)
                ):
                    return rid

    def _stamp(self, rng: random.Random) -> tuple[str, str]:
        created = SEED_EPOCH - timedelta(days=720) + timedelta(seconds=rng.randrange(0, 640 * 86400))
        updated = created + timedelta(seconds=rng.randrange(0, 80 * 86400), milliseconds=rng.randrange(1000))
        return iso(created), iso(min(updated, SEED_EPOCH - timedelta(seconds=1)))

    def _seed_users(self, rng: random.Random) -> None:
        self.users = {}
        titles = ("Account Executive", "Sales Manager", "SDR", "Customer Success Manager", "Head of Sales")
        for i in range(12):
            first, last = _FIRST[(i * 7) % len(_FIRST)], _LAST[(i * 5) % len(_LAST)]
            created, updated = self._stamp(rng)
            uid = f"usr_{1000 + i * 37}"
            self.users[uid] = {
                "id": uid,
                "first_name": first,
                "last_name": last,
                "email": f"{first.lower()}.{last.lower()}@sandbox-crm.test",
                "job_title": titles[i % len(titles)],
                "role": "admin" if i == 0 else "member",
                "active": i != 11,
                "created_at": created,
                "updated_at": updated,
            }
        self._users_json = b""

    def _seed_pipelines(self, rng: random.Random) -> None:
        layout = (
            (
                "pip_sales",
                "Sales",
                (
                    ("Qualified", 20),
                    ("Demo", 40),
                    ("Proposal", 60),
                    ("Negotiation", 80),
                    ("Closed Won", 100),
                    ("Closed Lost", 0),
                ),
            ),
            (
                "pip_renewals",
                "Renewals",
                (("Upcoming", 40), ("In Review", 60), ("Committed", 85), ("Renewed", 100), ("Churned", 0)),
            ),
        )
        self.pipelines = {}
        self.stages = {}
        for position, (pid, name, stages) in enumerate(layout):
            created, updated = self._stamp(rng)
            pipeline: dict[str, Any] = {
                "id": pid,
                "name": name,
                "active": True,
                "position": position,
                "stages": [],
                "created_at": created,
                "updated_at": updated,
            }
            for order, (label, probability) in enumerate(stages):
                kind = "won" if probability == 100 else "lost" if probability == 0 else "open"
                stage: dict[str, Any] = {
                    "id": f"stg_{pid[4:7]}_{order + 1}",
                    "label": label,
                    "probability": probability,
                    "position": order,
                    "kind": kind,
                    "active": True,
                }
                pipeline["stages"].append(stage)
                self.stages[stage["id"]] = (stage, pipeline)
            self.pipelines[pid] = pipeline
        self._pipelines_json = b""

    def _address(self, rng: random.Random) -> dict[str, Any]:
        city, region, code, postal, country, ccode = rng.choice(_CITIES)
        return {
            "line1": f"{rng.randrange(1, 999)} {rng.choice(_STREETS)}",
            "line2": rng.choice((None, None, f"Suite {rng.randrange(100, 900)}")),
            "city": city,
            "state": region,
            "state_code": code,
            "postal_code": postal,
            "country": country,
            "country_code": ccode,
        }

    def _seed_company(self, rng: random.Random, user_ids: list[str]) -> dict[str, Any]:
        created, updated = self._stamp(rng)
        stem = f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)}"
        rid = self.new_id("co_")
        domain = f"{stem.lower().replace(' ', '-')}-{rid[-4:]}.test"
        full = f"{stem} {rng.choice(_SUFFIX)}".strip()
        sparse = rng.random() < 0.12
        return {
            "id": rid,
            "name": full,
            "domain": domain,
            "website": None if sparse else f"https://www.{domain}",
            "industry": None if sparse else rng.choice(_INDUSTRIES),
            "employee_count": None if sparse else rng.choice((8, 25, 60, 140, 400, 1200, 5000)),
            "annual_revenue": None if sparse else f"{rng.randrange(200, 90000) * 1000}.00",
            "phone": None if sparse else f"+1 415 555 {rng.randrange(1000, 9999)}",
            "email": None if sparse else f"hello@{domain}",
            "description": None if sparse else f"{full} builds {rng.choice(_WORDS_B).lower()} products.",
            "address": None if sparse else self._address(rng),
            "owner_id": rng.choice(user_ids),
            "custom_fields": {}
            if sparse
            else {"tier": rng.choice(("gold", "silver", "bronze")), "region": rng.choice(_REGIONS)},
            "created_at": created,
            "updated_at": updated,
        }

    def _seed_contact(self, rng: random.Random, user_ids: list[str], company_ids: list[str]) -> dict[str, Any]:
        created, updated = self._stamp(rng)
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        rid = self.new_id("ct_")
        sparse = rng.random() < 0.1
        emails = [{"address": f"{first.lower()}.{last.lower()}.{rid[-5:]}@example.test", "label": "work"}]
        if rng.random() < 0.2:
            emails.append({"address": f"{first.lower()}{rid[-3:]}@mail.example", "label": "home"})
        phones = (
            []
            if sparse
            else [{"number": f"+1 212 555 {rng.randrange(1000, 9999)}", "label": rng.choice(("work", "mobile"))}]
        )
        return {
            "id": rid,
            "first_name": first,
            "last_name": None if rng.random() < 0.03 else last,
            "job_title": None if sparse else rng.choice(_TITLES),
            "department": None if sparse else rng.choice(_DEPARTMENTS),
            "emails": emails,
            "phones": phones,
            "address": None if sparse or rng.random() < 0.4 else self._address(rng),
            "company_id": rng.choice(company_ids) if company_ids and rng.random() < 0.9 else None,
            "owner_id": rng.choice(user_ids) if rng.random() < 0.95 else None,
            "photo_url": None if rng.random() < 0.7 else f"https://img.sandbox-crm.test/p/{rid}.png",
            "custom_fields": {}
            if sparse
            else {"newsletter": rng.random() < 0.5, "lifecycle": rng.choice(("lead", "customer", "evangelist"))},
            "created_at": created,
            "updated_at": updated,
        }

    def _seed_deal(
        self, rng: random.Random, user_ids: list[str], company_ids: list[str], contact_ids: list[str]
    ) -> dict[str, Any]:
        created, updated = self._stamp(rng)
        pipeline = self.pipelines["pip_sales" if rng.random() < 0.75 else "pip_renewals"]
        stage = rng.choice(pipeline["stages"])
        rid = self.new_id("dl_")
        status = stage["kind"]
        sparse = rng.random() < 0.1
        close = datetime.fromisoformat(created) + timedelta(days=rng.randrange(15, 200))
        amount = None if sparse else f"{rng.randrange(500, 250000)}.{rng.randrange(100):02d}"
        company = rng.choice(company_ids) if company_ids and rng.random() < 0.9 else None
        contacts = rng.sample(contact_ids, min(len(contact_ids), rng.randrange(0, 4)))
        seats = rng.randrange(5, 500)
        return {
            "id": rid,
            "title": f"{rng.choice(_WORDS_A)} {rng.choice(_WORDS_B)} - {seats} seats",
            "value": None if amount is None else {"amount": amount, "currency": rng.choice(_CURRENCIES)},
            "pipeline_id": pipeline["id"],
            "stage_id": stage["id"],
            "status": status,
            "win_probability": None if sparse else round(stage["probability"] / 100, 2),
            "expected_close_date": None if sparse else close.date().isoformat(),
            "closed_at": iso(close) if status != "open" else None,
            "close_reason": rng.choice(_WON) if status == "won" else rng.choice(_LOST) if status == "lost" else None,
            "lead_source": None if sparse else rng.choice(_SOURCES),
            "labels": sorted(rng.sample(_LABELS, rng.randrange(0, 3))),
            "owner_id": rng.choice(user_ids) if rng.random() < 0.95 else None,
            "company_id": company,
            "contact_ids": contacts,
            "custom_fields": {}
            if sparse
            else {"region": rng.choice(_REGIONS), "seats": seats, "renewal": pipeline["id"] == "pip_renewals"},
            "created_at": created,
            "updated_at": updated,
        }

    # -- rendering (the API's representation) ----------------------------------------------------
    def _render_deal(self, record: dict[str, Any]) -> dict[str, Any]:
        stage, pipeline = self.stages[record["stage_id"]]
        out = dict(record)
        del out["pipeline_id"], out["stage_id"]
        out["pipeline"] = {"id": pipeline["id"], "name": pipeline["name"]}
        out["stage"] = {"id": stage["id"], "label": stage["label"]}
        return out

    def _render_contact(self, record: dict[str, Any]) -> dict[str, Any]:
        out = dict(record)
        company_id = out.pop("company_id")
        company = self.companies.records.get(company_id) if company_id else None
        out["company"] = {"id": company_id, "name": company["name"]} if company else None
        return out

    @staticmethod
    def _render_company(record: dict[str, Any]) -> dict[str, Any]:
        return record

    def pipelines_json(self) -> bytes:
        with self.lock:
            if not self._pipelines_json:
                data = [self.pipelines[p] for p in self.pipelines]
                self._pipelines_json = json.dumps({"data": data}, separators=(",", ":")).encode()
            return self._pipelines_json

    def users_json(self) -> bytes:
        with self.lock:
            if not self._users_json:
                data = list(self.users.values())
                self._users_json = json.dumps({"data": data}, separators=(",", ":")).encode()
            return self._users_json

    # -- listing ----------------------------------------------------------------------------------
    def list_page(self, name: str, *, limit: int, cursor: str | None, updated_since: str | None) -> bytes:
        collection = self.collection(name)
        after = 0
        if cursor:
            after, from_cursor = decode_cursor(name, cursor)
            if updated_since is None:
                updated_since = from_cursor
        with self.lock:
            items, last = collection.page(after, limit, updated_since)
        next_cursor = encode_cursor(name, last, updated_since) if last is not None else None
        return b'{"data":[' + b",".join(items) + b'],"next_cursor":' + json.dumps(next_cursor).encode() + b"}"

    def get(self, name: str, rid: str) -> dict[str, Any]:
        collection = self.collection(name)
        with self.lock:
            if rid not in collection.records:
                raise ApiError(
                    404,
                    "not_found",
                    f"No {name[:-1] if name != 'companies' else 'company'} with id {rid!r}.",
                    resource=name,
                    id=rid,
                )
            return collection.render(rid)

    # -- writes -----------------------------------------------------------------------------------
    def create(self, name: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request", "The request body must be a JSON object.")
        with self.lock:
            record = self._validate(name, body, None)
            record["id"] = self.new_id({"deals": "dl_", "contacts": "ct_", "companies": "co_"}[name])
            record["created_at"] = record["updated_at"] = now_iso()
            self.collection(name).add(record)
            return self.collection(name).render(record["id"])

    def update(self, name: str, rid: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request", "The request body must be a JSON object.")
        with self.lock:
            current = self.get(name, rid)
            existing = self.collection(name).records[rid]
            del current  # existence check only
            changes = self._validate(name, body, existing)
            existing.update(changes)
            existing["updated_at"] = now_iso()
            self.collection(name).changed(rid)
            if name == "companies" and "name" in changes:
                self.contacts.invalidate()
            return self.collection(name).render(rid)

    def delete(self, name: str, rid: str) -> None:
        with self.lock:
            self.get(name, rid)
            self.collection(name).remove(rid)
            if name == "companies":
                for contact in self.contacts.records.values():
                    if contact["company_id"] == rid:
                        contact["company_id"] = None
                for deal in self.deals.records.values():
                    if deal["company_id"] == rid:
                        deal["company_id"] = None
                        self.deals.changed(deal["id"])
                self.contacts.invalidate()
            elif name == "contacts":
                for deal in self.deals.records.values():
                    if rid in deal["contact_ids"]:
                        deal["contact_ids"] = [c for c in deal["contact_ids"] if c != rid]
                        self.deals.changed(deal["id"])

    def _validate(self, name: str, body: Mapping[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        check = _Checker(self, body, creating=existing is None)
        if name == "deals":
            return check.deal(existing)
        if name == "contacts":
            return check.contact(existing)
        return check.company(existing)

    def find_company_by_domain(self, domain: str) -> str | None:
        for record in self.companies.records.values():
            if record["domain"] and record["domain"].lower() == domain.lower():
                return str(record["id"])
        return None

    def find_contact_by_email(self, address: str) -> str | None:
        address = address.lower()
        for record in self.contacts.records.values():
            for email in record["emails"]:
                if email["address"].lower() == address:
                    return str(record["id"])
        return None

    def search_page(self, name: str, *, limit: int, cursor: str | None, search: Mapping[str, str]) -> bytes:
        """A filtered and/or sorted listing (the ``SEARCH_PARAMS`` of ``name``), paged by offset.

        The cursor carries the search, so a following page is read with the same filters and order.
        """
        offset = 0
        if cursor:
            offset, search = decode_search_cursor(name, cursor)
        sort = search.get("sort")
        with self.lock:
            collection = self.collection(name)
            matching = [r for r in collection.records.values() if self._matches(name, r, search)]
            if sort:
                key = sort.lstrip("-")
                # Records without the field sort last (either order); ties keep creation order.
                present = [r for r in matching if _sort_value(name, r, key) is not None]
                missing = [r for r in matching if _sort_value(name, r, key) is None]
                present.sort(key=lambda r: _sort_value(name, r, key) or "", reverse=sort.startswith("-"))
                matching = present + missing
            page = matching[offset : offset + limit]
            items = [collection.json_of(r["id"]) for r in page]
        more = offset + limit < len(matching)
        next_cursor = encode_search_cursor(name, offset + limit, search) if more else None
        return b'{"data":[' + b",".join(items) + b'],"next_cursor":' + json.dumps(next_cursor).encode() + b"}"

    def _matches(self, name: str, record: Mapping[str, Any], search: Mapping[str, str]) -> bool:
        for key, value in search.items():
            if key == "sort":
                continue
            if key == "updated_since":
                if record["updated_at"] < value:
                    return False
            elif key == "created_since":
                if record["created_at"] < value:
                    return False
            elif key == "contact_id":
                if value not in (record.get("contact_ids") or ()):
                    return False
            elif key == "email":
                if value.casefold() not in {e["address"].casefold() for e in record.get("emails") or ()}:
                    return False
            elif key == "q":
                if value.casefold() not in _text(name, record).casefold():
                    return False
            elif record.get(key) != value:
                return False
        return True

    def warm(self) -> None:
        """Serialise every record now, so the first listing costs no more than later ones."""
        with self.lock:
            for collection in (self.deals, self.contacts, self.companies):
                for rid in collection.records:
                    collection.json_of(rid)
            self.pipelines_json()
            self.users_json()

    def iter_records(self, name: str) -> Iterator[dict[str, Any]]:
        with self.lock:
            yield from list(self.collection(name).records.values())


_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_READ_ONLY = frozenset({"id", "created_at", "updated_at", "pipeline", "stage", "company"})


class _Checker:
    """Validates one write body and collects every field error before failing."""

    def __init__(self, data: SandboxData, body: Mapping[str, Any], *, creating: bool) -> None:
        self.data = data
        self.body = body
        self.creating = creating
        self.errors: list[FieldError] = []
        self.out: dict[str, Any] = {}

    def fail(self, field: str, code: str, message: str) -> None:
        self.errors.append(FieldError(field, code, message))

    def done(self, allowed: set[str]) -> dict[str, Any]:
        for key in self.body:
            if key in _READ_ONLY:
                self.fail(key, "read_only", f"{key} cannot be written")
            elif key not in allowed:
                self.fail(key, "unknown_field", f"unknown field {key!r}")
        if self.errors:
            raise validation_failed(self.errors)
        return self.out

    def _string(self, key: str, *, required: bool = False, nullable: bool = True, max_len: int = 255) -> None:
        if key not in self.body:
            if required and self.creating:
                self.fail(key, "required", f"{key} is required")
            elif self.creating:
                self.out[key] = None
            return
        value = self.body[key]
        if value is None:
            if not nullable or required:
                self.fail(key, "required", f"{key} cannot be null")
            else:
                self.out[key] = None
            return
        if not isinstance(value, str):
            self.fail(key, "invalid_type", f"{key} must be a string")
        elif required and not value.strip():
            self.fail(key, "blank", f"{key} cannot be blank")
        elif len(value) > max_len:
            self.fail(key, "too_long", f"{key} must be at most {max_len} characters")
        else:
            self.out[key] = value

    def _ref(self, key: str, table: Mapping[str, Any], what: str) -> None:
        if key not in self.body:
            if self.creating:
                self.out[key] = None
            return
        value = self.body[key]
        if value is None:
            self.out[key] = None
        elif not isinstance(value, str) or value not in table:
            self.fail(key, "not_found", f"{key} does not name an existing {what}")
        else:
            self.out[key] = value

    def _custom_fields(self, existing: dict[str, Any] | None) -> None:
        if "custom_fields" not in self.body:
            if self.creating:
                self.out["custom_fields"] = {}
            return
        value = self.body["custom_fields"]
        if value is None:
            self.out["custom_fields"] = {}
        elif not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            self.fail("custom_fields", "invalid_type", "custom_fields must be an object")
        else:
            merged = dict(existing["custom_fields"]) if existing else {}
            for key, item in value.items():
                if item is None:
                    merged.pop(key, None)
                elif isinstance(item, str | int | float | bool) or (
                    isinstance(item, list) and all(isinstance(x, str) for x in item)
                ):
                    merged[key] = item
                else:
                    self.fail(f"custom_fields.{key}", "invalid_type", "custom field values must be scalars")
            self.out["custom_fields"] = merged

    def _address(self) -> None:
        if "address" not in self.body:
            if self.creating:
                self.out["address"] = None
            return
        value = self.body["address"]
        if value is None:
            self.out["address"] = None
            return
        keys = ("line1", "line2", "city", "state", "state_code", "postal_code", "country", "country_code")
        if not isinstance(value, dict):
            self.fail("address", "invalid_type", "address must be an object")
            return
        unknown = [k for k in value if k not in keys]
        if unknown:
            self.fail(f"address.{unknown[0]}", "unknown_field", f"unknown address field {unknown[0]!r}")
        bad = [k for k in keys if value.get(k) is not None and not isinstance(value.get(k), str)]
        if bad:
            self.fail(f"address.{bad[0]}", "invalid_type", "address fields must be strings")
        self.out["address"] = {k: value.get(k) for k in keys}

    def _labelled(self, key: str, inner: str, check: Callable[[str], bool], what: str) -> None:
        if key not in self.body:
            if self.creating:
                self.out[key] = []
            return
        value = self.body[key]
        if value is None:
            self.out[key] = []
            return
        if not isinstance(value, list):
            self.fail(key, "invalid_type", f"{key} must be a list")
            return
        items = []
        for i, item in enumerate(value):
            if not isinstance(item, dict) or not isinstance(item.get(inner), str) or not check(item[inner]):
                self.fail(f"{key}[{i}].{inner}", "invalid", f"not a valid {what}")
                continue
            label = item.get("label")
            if label is not None and not isinstance(label, str):
                self.fail(f"{key}[{i}].label", "invalid_type", "label must be a string")
                continue
            items.append({inner: item[inner], "label": label})
        self.out[key] = items

    # -- per resource ------------------------------------------------------------------------------
    def deal(self, existing: dict[str, Any] | None) -> dict[str, Any]:
        body, data = self.body, self.data
        self._string("title", required=True)
        if "value" in body:
            value = body["value"]
            if value is None:
                self.out["value"] = None
            elif not isinstance(value, dict):
                self.fail("value", "invalid_type", "value must be an object with amount and currency")
            else:
                merged = dict((existing or {}).get("value") or {"amount": None, "currency": "USD"})
                if "amount" in value:
                    amount = value["amount"]
                    if isinstance(amount, bool) or not isinstance(amount, str | int | float):
                        self.fail("value.amount", "not_a_number", "amount must be a number")
                    else:
                        try:
                            parsed = Decimal(str(amount))
                            if not parsed.is_finite():
                                raise InvalidOperation
                            merged["amount"] = (
                                f"{parsed:.2f}" if parsed == parsed.quantize(Decimal("0.01")) else str(parsed)
                            )
                        except InvalidOperation:
                            self.fail("value.amount", "not_a_number", "amount must be a number")
                if "currency" in value:
                    currency = value["currency"]
                    if not isinstance(currency, str) or not _CURRENCY.match(currency):
                        self.fail("value.currency", "invalid", "currency must be an ISO 4217 code like USD")
                    else:
                        merged["currency"] = currency
                extra = [k for k in value if k not in ("amount", "currency")]
                if extra:
                    self.fail(f"value.{extra[0]}", "unknown_field", f"unknown field {extra[0]!r}")
                self.out["value"] = merged if merged.get("amount") is not None else None
        elif self.creating:
            self.out["value"] = None
        # Stage and pipeline: a stage implies its pipeline; a pipeline alone means its first stage.
        stage_id = body.get("stage_id", existing["stage_id"] if existing else None)
        pipeline_id = body.get("pipeline_id")
        if "stage_id" in body and (not isinstance(stage_id, str) or stage_id not in data.stages):
            self.fail("stage_id", "not_found", "stage_id does not name an existing stage")
        elif "pipeline_id" in body and (not isinstance(pipeline_id, str) or pipeline_id not in data.pipelines):
            self.fail("pipeline_id", "not_found", "pipeline_id does not name an existing pipeline")
        else:
            if pipeline_id is not None and "stage_id" not in body:
                stage_id = data.pipelines[pipeline_id]["stages"][0]["id"]
            if stage_id is None:
                stage_id = data.pipelines["pip_sales"]["stages"][0]["id"]
            _, pipeline = data.stages[stage_id]
            if pipeline_id is not None and pipeline["id"] != pipeline_id:
                self.fail("stage_id", "mismatch", f"stage {stage_id} is not in pipeline {pipeline_id}")
            else:
                self.out["stage_id"] = stage_id
                self.out["pipeline_id"] = pipeline["id"]
        if "status" in body:
            if body["status"] not in ("open", "won", "lost"):
                self.fail("status", "invalid", "status must be open, won or lost")
            else:
                self.out["status"] = body["status"]
        elif self.creating:
            stage_kind = data.stages[self.out["stage_id"]][0]["kind"] if "stage_id" in self.out else "open"
            self.out["status"] = stage_kind
        if "win_probability" in body:
            p = body["win_probability"]
            if p is not None and (isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 1):
                self.fail("win_probability", "out_of_range", "win_probability must be between 0 and 1")
            else:
                self.out["win_probability"] = p
        elif self.creating:
            self.out["win_probability"] = None
        if "expected_close_date" in body:
            d = body["expected_close_date"]
            if d is not None:
                try:
                    if not isinstance(d, str) or not _DATE.match(d):
                        raise ValueError
                    date.fromisoformat(d)
                except ValueError:
                    self.fail("expected_close_date", "invalid", "expected_close_date must be YYYY-MM-DD")
            self.out["expected_close_date"] = d
        elif self.creating:
            self.out["expected_close_date"] = None
        if "closed_at" in body:
            t = body["closed_at"]
            if t is not None:
                try:
                    if not isinstance(t, str):
                        raise ValueError
                    t = iso(parse_timestamp(t))
                except ValueError:
                    self.fail("closed_at", "invalid", "closed_at must be an ISO-8601 timestamp")
            self.out["closed_at"] = t
        elif self.creating:
            self.out["closed_at"] = None
        self._string("close_reason")
        self._string("lead_source")
        if "labels" in body:
            labels = body["labels"]
            if labels is None:
                self.out["labels"] = []
            elif not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                self.fail("labels", "invalid_type", "labels must be a list of strings")
            else:
                self.out["labels"] = list(dict.fromkeys(labels))
        elif self.creating:
            self.out["labels"] = []
        self._ref("owner_id", data.users, "user")
        self._ref("company_id", data.companies.records, "company")
        if "contact_ids" in body:
            ids = body["contact_ids"]
            if ids is None:
                self.out["contact_ids"] = []
            elif not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
                self.fail("contact_ids", "invalid_type", "contact_ids must be a list of ids")
            else:
                missing = [x for x in ids if x not in data.contacts.records]
                if missing:
                    self.fail("contact_ids", "not_found", f"unknown contacts: {', '.join(missing)}")
                else:
                    self.out["contact_ids"] = list(dict.fromkeys(ids))
        elif self.creating:
            self.out["contact_ids"] = []
        self._custom_fields(existing)
        return self.done(
            {
                "title",
                "value",
                "pipeline_id",
                "stage_id",
                "status",
                "win_probability",
                "expected_close_date",
                "closed_at",
                "close_reason",
                "lead_source",
                "labels",
                "owner_id",
                "company_id",
                "contact_ids",
                "custom_fields",
            }
        )

    def contact(self, existing: dict[str, Any] | None) -> dict[str, Any]:
        data = self.data
        self._string("first_name")
        self._string("last_name")
        self._string("job_title")
        self._string("department")
        self._string("photo_url", max_len=2000)
        self._labelled("emails", "address", lambda v: "@" in v and " " not in v.strip(), "email address")
        self._labelled("phones", "number", lambda v: sum(c.isdigit() for c in v) >= 5, "phone number")
        self._address()
        self._ref("company_id", data.companies.records, "company")
        self._ref("owner_id", data.users, "user")
        self._custom_fields(existing)
        merged = {**(existing or {}), **self.out}
        if not self.errors and not (merged.get("first_name") or merged.get("last_name") or merged.get("emails")):
            self.fail("first_name", "required", "a contact needs a name or an email address")
        result = self.done(
            {
                "first_name",
                "last_name",
                "job_title",
                "department",
                "photo_url",
                "emails",
                "phones",
                "address",
                "company_id",
                "owner_id",
                "custom_fields",
            }
        )
        for email in result.get("emails", []):
            other = data.find_contact_by_email(email["address"])
            if other is not None and (existing is None or other != existing["id"]):
                raise ApiError(
                    409,
                    "duplicate_record",
                    f"A contact with email {email['address']} already exists.",
                    existing_id=other,
                )
        return result

    def company(self, existing: dict[str, Any] | None) -> dict[str, Any]:
        data = self.data
        self._string("name", required=True)
        self._string("domain")
        self._string("website", max_len=2000)
        self._string("industry")
        self._string("phone")
        self._string("email")
        self._string("description", max_len=5000)
        if "employee_count" in self.body:
            n = self.body["employee_count"]
            if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
                self.fail("employee_count", "invalid", "employee_count must be a whole number >= 0")
            else:
                self.out["employee_count"] = n
        elif self.creating:
            self.out["employee_count"] = None
        if "annual_revenue" in self.body:
            rev = self.body["annual_revenue"]
            try:
                self.out["annual_revenue"] = None if rev is None else str(Decimal(str(rev)))
                if isinstance(rev, bool):
                    raise InvalidOperation
            except InvalidOperation:
                self.fail("annual_revenue", "not_a_number", "annual_revenue must be a number")
        elif self.creating:
            self.out["annual_revenue"] = None
        self._address()
        self._ref("owner_id", data.users, "user")
        self._custom_fields(existing)
        result = self.done(
            {
                "name",
                "domain",
                "website",
                "industry",
                "phone",
                "email",
                "description",
                "employee_count",
                "annual_revenue",
                "address",
                "owner_id",
                "custom_fields",
            }
        )
        domain = result.get("domain")
        if domain:
            other = data.find_company_by_domain(domain)
            if other is not None and (existing is None or other != existing["id"]):
                raise ApiError(
                    409, "duplicate_record", f"A company with domain {domain} already exists.", existing_id=other
                )
        return result
