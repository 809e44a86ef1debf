"""The `wabahook` command line: the click group and, registered on it, every command."""

from __future__ import annotations

# Importing a command module registers its commands on `main`.
from processors.cli import (
    analytics,
    channel_settings_cmd,
    channels_cmd,
    connect_cmd,
    deliveries_cmd,
    destinations_cmd,
    failed,
    lookup_cmd,
    messages_cmd,
    people_cmd,
    people_erase_cmd,
    people_export_cmd,
    processing,
    relay_cmd,
    retention_cmd,
    running,
    schema,
    stored,
    workers,
)
from processors.cli.common import main

__all__ = [
    "analytics",
    "channel_settings_cmd",
    "channels_cmd",
    "connect_cmd",
    "deliveries_cmd",
    "destinations_cmd",
    "failed",
    "lookup_cmd",
    "main",
    "messages_cmd",
    "people_cmd",
    "people_erase_cmd",
    "people_export_cmd",
    "processing",
    "relay_cmd",
    "retention_cmd",
    "running",
    "schema",
    "stored",
    "workers",
]
