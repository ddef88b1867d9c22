"""Unified models returned by every provider."""

from unified_sdk.models._base import UnifiedModel, construct
from unified_sdk.models.crm import (
    Address,
    Company,
    Contact,
    Deal,
    Email,
    Metadata,
    Pipeline,
    Stage,
    Telephone,
    User,
)

__all__ = [
    "Address",
    "Company",
    "Contact",
    "Deal",
    "Email",
    "Metadata",
    "Pipeline",
    "Stage",
    "Telephone",
    "UnifiedModel",
    "User",
    "construct",
]
