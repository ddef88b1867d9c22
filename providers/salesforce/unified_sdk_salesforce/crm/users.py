"""Users are Salesforce Users (record owners); read-only."""

from __future__ import annotations

from typing import Any

from unified_sdk.models import Email, User, construct
from unified_sdk.provider import CrmObjectAdapter
from unified_sdk_salesforce.crm._base import SObjectAdapter, to_datetime


class UsersAdapter(SObjectAdapter[User]):
    """``crm.users`` over ``User``: list and get."""

    sobject = "User"
    fields = ("Id", "Name", "FirstName", "LastName", "Email", "Title", "IsActive", "CreatedDate", "LastModifiedDate")
    sorts = frozenset()

    def to_model(self, record: dict[str, Any]) -> User:
        email = record.get("Email")
        return construct(
            User,
            id=record.get("Id"),
            created_at=to_datetime(record.get("CreatedDate")),
            updated_at=to_datetime(record.get("LastModifiedDate")),
            name=record.get("Name"),
            first_name=record.get("FirstName"),
            last_name=record.get("LastName"),
            emails=[construct(Email, email=email, type="work")] if email else [],
            title=record.get("Title"),
            is_active=record.get("IsActive"),
            raw=record,
        )

    # Users are managed in Salesforce Setup, not through this plugin: the core reports
    # create/update/delete as not supported before sending anything.
    create = CrmObjectAdapter.create
    update = CrmObjectAdapter.update
    delete = CrmObjectAdapter.delete
    create_many = CrmObjectAdapter.create_many
    update_many = CrmObjectAdapter.update_many
