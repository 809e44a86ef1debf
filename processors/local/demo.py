"""What `up` shows on its first start: a sample inbound message and a few outbound ones.

Every body is stamped with the time it is made, so `stats` ("last 7 days") and the
console ("today") show it. The seeded bodies go through the receiver like any
delivery: nothing here writes a table the pipeline owns.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from processors import channels
from processors.channels import meta
from processors.local.local_files import QuickstartError, read_file, write_file
from receiver.auth import Authenticator, BasicCredentials
from receiver.config import COMMAND_DB_SECONDS, Secret
from receiver.db import Database

WABA_ID = "100000000000001"
PHONE_NUMBER_ID = "100000000000002"
DISPLAY_NUMBER = "15550001111"
CUSTOMER = "16315551234"
DEMO_CHANNEL = "demo"


def _envelope(value: dict[str, Any]) -> bytes:
    """A Cloud API notification of the `messages` field holding `value`."""
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": PHONE_NUMBER_ID},
        **value,
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body, separators=(",", ":")).encode()


def sample_notification(now: int | None = None) -> str:
    """An inbound text message sent `now` (Unix seconds); its id names the second."""
    sent = int(time.time()) if now is None else now
    return _envelope(
        {
            "contacts": [{"profile": {"name": "Kerry"}, "wa_id": CUSTOMER}],
            "messages": [
                {
                    "from": CUSTOMER,
                    "id": f"wamid.wabahook-demo-{sent}",
                    "timestamp": str(sent),
                    "type": "text",
                    "text": {"body": "Hello from wabahook"},
                }
            ],
        }
    ).decode()


def _status(message_id: str, status: str, at: int, **more: Any) -> dict[str, Any]:
    pricing = {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"}
    return {
        "id": message_id,
        "status": status,
        "timestamp": str(at),
        "recipient_id": CUSTOMER,
        **({"pricing": pricing} if status != "failed" else {}),
        **more,
    }


def seeded_bodies(now: int) -> list[bytes]:
    """One outbound message sent, delivered and read, and one that failed, minutes ago."""
    read = f"wamid.wabahook-demo-out-{now}-1"
    failed = f"wamid.wabahook-demo-out-{now}-2"
    error = {
        "code": 131026,
        "title": "Message undeliverable",
        "message": "Message undeliverable",
        "error_data": {"details": "The recipient's phone number is not a WhatsApp number."},
    }
    return [
        _envelope({"statuses": [_status(read, "sent", now - 300)]}),
        _envelope(
            {"statuses": [_status(read, "delivered", now - 290), _status(read, "read", now - 120)]}
        ),
        _envelope({"statuses": [_status(failed, "failed", now - 200, errors=[error])]}),
    ]


def post(url: str, credential: channels.IssuedCredential, body: bytes) -> None:
    """POST `body` to the receiver at `url` as the demo channel's sender would."""
    token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310  (our own receiver's URL)
        url,
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Basic {token}"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            answer.read()
    except OSError as exc:  # URLError and HTTPError are OSErrors: one line, not a traceback
        raise QuickstartError(f"the receiver did not take the demo notifications: {exc}") from None


def credential(database_url: str, saved: Path) -> channels.IssuedCredential:
    """The demo channel's credential, kept in var/ so the printed curl line keeps working."""
    # Here, not above: `channels add` imports this module for its sample and needs no Flask.
    from receiver.intake import channel_auth_loader

    db = Database(
        Secret(database_url),
        application_name="wabahook-up",
        timeout=COMMAND_DB_SECONDS,
        max_size=1,
    )
    try:
        if not channels.exists(db, DEMO_CHANNEL):
            issued = channels.add_channel(db, DEMO_CHANNEL)
        elif meta.channel_kind(db, DEMO_CHANNEL) != "basic":
            raise QuickstartError(
                f"channel {DEMO_CHANNEL!r} is a meta channel here: up posts its sample"
                " with Basic credentials; use another database or --var-dir"
            )
        else:
            channels.set_enabled(db, DEMO_CHANNEL, True)
            kept = _read_credential(saved)
            # The receiver's own check decides whether the saved password still works.
            authenticator = Authenticator(channel_auth_loader(db), ttl=0)
            presented = (
                BasicCredentials(kept.username.encode(), kept.password.encode())
                if kept is not None
                else None
            )
            if kept is None or not authenticator.check(DEMO_CHANNEL, presented):
                kept = channels.replace_credential(db, DEMO_CHANNEL)
            issued = kept
    finally:
        db.close()
    write_file(saved, json.dumps(issued.as_json()) + "\n")
    return issued


def _read_credential(path: Path) -> channels.IssuedCredential | None:
    text = read_file(path)
    try:
        data = json.loads(text or "")
        return channels.IssuedCredential(data["channel"], data["user"], data["password"])
    except (ValueError, KeyError, TypeError):
        return None
