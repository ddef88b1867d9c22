"""The fake org's data model: sObject descriptions, field types and Salesforce record ids."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Field types the fake knows, grouped by how their values are written and compared.
STRING_TYPES = frozenset({"id", "reference", "string", "textarea", "picklist", "email", "phone", "url"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: str
    label: str = ""
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    unique: bool = False
    external_id: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")


@dataclass(frozen=True, slots=True)
class SObject:
    name: str
    key_prefix: str
    label: str
    fields: Mapping[str, Field]
    required: tuple[str, ...] = ()
    createable: bool = True
    updateable: bool = True
    deletable: bool = True
    _by_lower: Mapping[str, Field] = field(default_factory=dict)
    _relationships: Mapping[str, Field] = field(default_factory=dict)

    def field(self, name: str) -> Field | None:
        """The field called ``name`` (SOQL and the REST API ignore case in field names)."""
        return self._by_lower.get(name.lower())

    def relationship(self, name: str) -> Field | None:
        """The reference field behind relationship ``name`` (``Account`` for ``AccountId``)."""
        return self._relationships.get(name.lower())


def _sobject(
    name: str,
    key_prefix: str,
    label: str,
    fields: list[Field],
    *,
    required: tuple[str, ...] = (),
    createable: bool = True,
    updateable: bool = True,
    deletable: bool = True,
) -> SObject:
    audit = [
        Field("Id", "id", "Record ID", createable=False, updateable=False, nillable=False),
        Field("IsDeleted", "boolean", "Deleted", createable=False, updateable=False, nillable=False),
        Field("CreatedDate", "datetime", "Created Date", createable=False, updateable=False, nillable=False),
        Field(
            "LastModifiedDate",
            "datetime",
            "Last Modified Date",
            createable=False,
            updateable=False,
            nillable=False,
        ),
        Field("SystemModstamp", "datetime", "System Modstamp", createable=False, updateable=False, nillable=False),
    ]
    all_fields = {f.name: f for f in [*audit, *fields]}
    return SObject(
        name=name,
        key_prefix=key_prefix,
        label=label,
        fields=all_fields,
        required=required,
        createable=createable,
        updateable=updateable,
        deletable=deletable,
        _by_lower={n.lower(): f for n, f in all_fields.items()},
        _relationships={f.relationship_name.lower(): f for f in all_fields.values() if f.relationship_name},
    )


def _ref(name: str, to: str, relationship: str, label: str) -> Field:
    return Field(name, "reference", label, reference_to=to, relationship_name=relationship)


def _ro(name: str, type_: str, label: str) -> Field:
    return Field(name, type_, label, createable=False, updateable=False)


SCHEMA: Mapping[str, SObject] = {
    o.name: o
    for o in (
        _sobject(
            "User",
            "005",
            "User",
            [
                Field("Username", "string", "Username", nillable=False, unique=True),
                Field("FirstName", "string", "First Name"),
                Field("LastName", "string", "Last Name", nillable=False),
                _ro("Name", "string", "Full Name"),
                Field("Email", "email", "Email", nillable=False),
                Field("Title", "string", "Title"),
                Field("IsActive", "boolean", "Active", nillable=False),
            ],
            required=("Username", "LastName", "Email"),
            deletable=False,
        ),
        _sobject(
            "Account",
            "001",
            "Account",
            [
                Field("Name", "string", "Account Name", nillable=False),
                Field("Website", "url", "Website"),
                Field("Industry", "picklist", "Industry"),
                Field("NumberOfEmployees", "int", "Employees"),
                Field("Phone", "phone", "Account Phone"),
                Field("Description", "textarea", "Account Description"),
                Field("BillingStreet", "textarea", "Billing Street"),
                Field("BillingCity", "string", "Billing City"),
                Field("BillingState", "string", "Billing State/Province"),
                Field("BillingPostalCode", "string", "Billing Zip/Postal Code"),
                Field("BillingCountry", "string", "Billing Country"),
                _ref("OwnerId", "User", "Owner", "Owner ID"),
                Field("External_Id__c", "string", "External Id", unique=True, external_id=True),
                Field("Tier__c", "picklist", "Tier"),
            ],
            required=("Name",),
        ),
        _sobject(
            "Contact",
            "003",
            "Contact",
            [
                Field("FirstName", "string", "First Name"),
                Field("LastName", "string", "Last Name", nillable=False),
                _ro("Name", "string", "Full Name"),
                Field("Title", "string", "Title"),
                Field("Department", "string", "Department"),
                Field("Email", "email", "Email"),
                Field("Phone", "phone", "Business Phone"),
                Field("MobilePhone", "phone", "Mobile Phone"),
                Field("HomePhone", "phone", "Home Phone"),
                Field("MailingStreet", "textarea", "Mailing Street"),
                Field("MailingCity", "string", "Mailing City"),
                Field("MailingState", "string", "Mailing State/Province"),
                Field("MailingPostalCode", "string", "Mailing Zip/Postal Code"),
                Field("MailingCountry", "string", "Mailing Country"),
                _ref("AccountId", "Account", "Account", "Account ID"),
                _ref("OwnerId", "User", "Owner", "Owner ID"),
                Field("Preferred_Channel__c", "picklist", "Preferred Channel"),
                # An external id that is not unique: lookups by it can match several records (300).
                Field("Legacy_Id__c", "string", "Legacy Id", external_id=True),
            ],
            required=("LastName",),
        ),
        _sobject(
            "Opportunity",
            "006",
            "Opportunity",
            [
                Field("Name", "string", "Name", nillable=False),
                _ref("AccountId", "Account", "Account", "Account ID"),
                _ref("OwnerId", "User", "Owner", "Owner ID"),
                Field("StageName", "picklist", "Stage", nillable=False),
                Field("Amount", "currency", "Amount"),
                Field("Probability", "percent", "Probability (%)"),
                Field("CloseDate", "date", "Close Date", nillable=False),
                Field("Type", "picklist", "Opportunity Type"),
                Field("LeadSource", "picklist", "Lead Source"),
                Field("Description", "textarea", "Description"),
                _ro("IsClosed", "boolean", "Closed"),
                _ro("IsWon", "boolean", "Won"),
                Field("Region__c", "picklist", "Region"),
                Field("Forecast_Score__c", "double", "Forecast Score"),
            ],
            required=("Name", "StageName", "CloseDate"),
        ),
        _sobject(
            "OpportunityStage",
            "01J",
            "Opportunity Stage",
            [
                _ro("ApiName", "string", "Api Name"),
                _ro("MasterLabel", "string", "Master Label"),
                _ro("IsActive", "boolean", "Is Active"),
                _ro("SortOrder", "int", "Sort Order"),
                _ro("DefaultProbability", "percent", "Probability (%)"),
                _ro("IsClosed", "boolean", "Closed"),
                _ro("IsWon", "boolean", "Won"),
                _ro("ForecastCategoryName", "picklist", "Forecast Category"),
            ],
            createable=False,
            updateable=False,
            deletable=False,
        ),
    )
}

_BY_PREFIX = {o.key_prefix: o for o in SCHEMA.values()}


def sobject(name: str) -> SObject | None:
    """The sObject called ``name``, ignoring case as Salesforce does."""
    found = SCHEMA.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    return next((o for o in SCHEMA.values() if o.name.lower() == lowered), None)


def sobject_for_id(record_id: str) -> SObject | None:
    return _BY_PREFIX.get(record_id[:3])


# -- record ids -------------------------------------------------------------------------------
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def id18(id15: str) -> str:
    """The 18-character, case-insensitive-safe form of a 15-character record id.

    Each 5-character chunk contributes one suffix character whose bits flag
    which of the chunk's characters are upper-case letters (lowest bit first).
    """
    suffix = ""
    for start in (0, 5, 10):
        bits = 0
        for i, ch in enumerate(id15[start : start + 5]):
            if "A" <= ch <= "Z":
                bits |= 1 << i
        suffix += _SUFFIX_ALPHABET[bits]
    return id15 + suffix


def is_record_id(value: str) -> bool:
    """Whether ``value`` has the shape of a record id (15 or 18 alphanumerics, a valid checksum)."""
    if len(value) not in (15, 18) or not value.isalnum() or not value.isascii():
        return False
    return len(value) == 15 or id18(value[:15]).lower() == value.lower()


def to_id18(value: str) -> str:
    return id18(value) if len(value) == 15 else value[:15] + id18(value[:15])[15:]


class IdFactory:
    """Mints record ids per key prefix: prefix + 2-char pod + serial in base 62, then the checksum."""

    def __init__(self, pod: str = "8c") -> None:
        self._pod = pod
        self._counters: dict[str, itertools.count[int]] = {}
        self._lock = threading.Lock()

    def new(self, key_prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(key_prefix, itertools.count(1))
            n = next(counter)
        digits = ""
        for _ in range(10):
            n, r = divmod(n, 62)
            digits = _BASE62[r] + digits
        return id18(key_prefix + self._pod + digits)
