"""A web "Connect HubSpot" flow built on unified-sdk: see ``app.py`` and README.md."""

from examples.connect_app.app import create_app

__all__ = ["create_app"]
