"""Bodies naming business numbers: several numbers and WABAs on one channel, display changes."""

from __future__ import annotations

from tests.support.bodies import T0, Case

# Numbers of their own, so that no other corpus case touches their rows.
PN_A, WABA_A, DISPLAY_A = "200000000000001", "300000000000001", "15550001111"
PN_B, WABA_B, DISPLAY_B = "200000000000002", "300000000000002", "15550002222"
PN_C, WABA_C = "200000000000003", "300000000000003"


def entry(waba: str, pn: str, display: str | None, members: str, time: int | None = None) -> str:
    """One `entry` with a `messages` change of the number `pn` (JSON text)."""
    shown = f'"display_phone_number":"{display}",' if display else ""
    when = f'"time":{time},' if time is not None else ""
    return (
        f'{{"id":"{waba}",{when}"changes":[{{"field":"messages","value":{{'
        f'"messaging_product":"whatsapp","metadata":{{{shown}"phone_number_id":"{pn}"}},'
        f"{members}}}}}]}}"
    )


def body(*entries: str) -> bytes:
    return ('{"object":"whatsapp_business_account","entry":[' + ",".join(entries) + "]}").encode()


def sent(message_id: str, at: int) -> str:
    return (
        f'"statuses":[{{"id":"{message_id}","status":"sent","timestamp":"{at}",'
        '"recipient_id":"4915100000001"}]'
    )


C_ROW = {
    "phone_number_id": PN_C,
    "waba_id": WABA_C,
    "display_phone_number": "15550003333",  # of the latest notification, whatever the order
    "first_seen_at": T0 + 50,
    "last_seen_at": T0 + 300,
}

CASES = [
    Case(
        "cloud body of two numbers of two WABAs",
        body(
            entry(WABA_A, PN_A, DISPLAY_A, sent("wamid.numbers-a1", T0 + 10)),
            entry(WABA_B, PN_B, DISPLAY_B, sent("wamid.numbers-b1", T0 + 20)),
        ),
        statuses={
            ("wamid.numbers-a1", "sent", T0 + 10): {"phone_number_id": PN_A},
            ("wamid.numbers-b1", "sent", T0 + 20): {"phone_number_id": PN_B},
        },
        views={
            "phone_numbers": [
                {"phone_number_id": PN_A, "waba_id": WABA_A, "display_phone_number": DISPLAY_A,
                 "first_seen_at": T0 + 10, "last_seen_at": T0 + 10},
                {"phone_number_id": PN_B, "waba_id": WABA_B, "display_phone_number": DISPLAY_B,
                 "first_seen_at": T0 + 20, "last_seen_at": T0 + 20},
            ],
            "delivery_status": [
                {"message_id": "wamid.numbers-a1", "phone_number_id": PN_A},
                {"message_id": "wamid.numbers-b1", "phone_number_id": PN_B},
            ],
        },
    ),
    Case(
        "a number's later notification with a new display number",
        body(entry(WABA_C, PN_C, "15550003333", sent("wamid.numbers-c2", T0 + 300))),
        statuses={("wamid.numbers-c2", "sent", T0 + 300): {"phone_number_id": PN_C}},
        views={"phone_numbers": [C_ROW]},
    ),
    Case(
        "a number's earlier notification with its old display number",
        body(entry(WABA_C, PN_C, "15550004444", sent("wamid.numbers-c1", T0 + 50))),
        statuses={("wamid.numbers-c1", "sent", T0 + 50): {"phone_number_id": PN_C}},
        views={"phone_numbers": [C_ROW]},
    ),
    Case(
        "a number's notification without a display number or any item time",
        body(entry(WABA_C, PN_C, None, '"statuses":[]', time=T0 + 100)),
        views={"phone_numbers": [C_ROW]},
    ),
]  # fmt: skip
