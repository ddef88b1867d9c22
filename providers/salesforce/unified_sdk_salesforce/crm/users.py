"""Users are Salesforce Users (record owners); read-only."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from unified_sdk.models import User, construct
from unified_sdk.provider import CrmObjectAdapter, FieldMap, MappedField, convert
from unified_sdk_salesforce.crm._base import SalesforceObjectAdapter
from unified_sdk_salesforce.crm._values import work_emails


class UsersAdapter(SalesforceObjectAdapter[User]):
    """``crm.users`` over ``User``: list and get."""

    sobject = "User"
    fields = ("Id", "Name", "FirstName", "LastName", "Email", "Title", "IsActive", "CreatedDate", "LastModifiedDate")
    sorts = frozenset()
    mapping = FieldMap(
        MappedField("id", "Id", writable=False),
        MappedField("created_at", "CreatedDate", read=convert.timestamp, writable=False),
        MappedField("updated_at", "LastModifiedDate", read=convert.timestamp, writable=False),
        MappedField("name", "Name", writable=False),
        MappedField("first_name", "FirstName", writable=False),
        MappedField("last_name", "LastName", writable=False),
        MappedField("emails", "Email", read=work_emails, writable=False),
        MappedField("title", "Title", writable=False),
        MappedField("is_active", "IsActive", writable=False),
    )

    def to_unified(self, record: Mapping[str, Any], lookups: Any) -> User:
        return construct(User, **self.mapping.read(record), raw=record)

    # Users are managed in Salesforce Setup, not through this plugin: the core reports
    # create/update/delete as not supported before sending anything.
    create = CrmObjectAdapter.create
    update = CrmObjectAdapter.update
    delete = CrmObjectAdapter.delete
    create_many = CrmObjectAdapter.create_many
    update_many = CrmObjectAdapter.update_many
