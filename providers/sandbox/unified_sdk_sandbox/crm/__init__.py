"""Adapters from the sandbox's records to the unified CRM models (imported lazily by the core)."""
