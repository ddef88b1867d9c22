"""``python -m examples.connect_app``: serve the Connect app against a local fake HubSpot."""

from examples.connect_app.app import main

main()
