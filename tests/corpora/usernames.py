"""The business username webhook under each of its names, and in its first form."""

from __future__ import annotations

from tests.corpora.management import management
from tests.support.bodies import T0, WABA, Case

NUMBER = '"display_phone_number":"15550783881"'


def username_event(field: str, event: str | None, username: str | None, at: int) -> dict:
    """The phone_number_events row a username notification must give."""
    return {
        "waba_id": WABA,
        "display_phone_number": "15550783881",
        "field": field,
        "event": event,
        "username": username,
        "event_at": at,
    }


CASES = [
    Case(
        "business username approved (the current name of the field)",
        management(
            "business_username_updates",
            "{" + NUMBER + ',"username":"luckyshrub","status":"approved"}',
            T0 + 300,
        ),
        views={
            "phone_number_events": [
                username_event("business_username_updates", "approved", "luckyshrub", T0 + 300)
            ]
        },
    ),
    Case(
        "business username reserved (the singular name of February 2026)",
        management(
            "business_username_update",
            "{" + NUMBER + ',"username":"luckyshrub2","status":"reserved"}',
            T0 + 301,
        ),
        views={
            "phone_number_events": [
                username_event("business_username_update", "reserved", "luckyshrub2", T0 + 301)
            ]
        },
    ),
    Case(
        "business username deleted: no username in it",
        management("business_username_updates", "{" + NUMBER + ',"status":"deleted"}', T0 + 302),
        views={
            "phone_number_events": [
                username_event("business_username_updates", "deleted", None, T0 + 302)
            ]
        },
    ),
    Case(
        "requested username rejected (the December 2025 form)",
        management(
            "phone_number_username_update",
            "{" + NUMBER + ',"decision":"REJECTED","requested_username":"lucky",'
            '"rejection_reasons":["NOT_AVAILABLE","UNKNOWN"]}',
            T0 + 303,
        ),
        views={
            "phone_number_events": [
                {
                    **username_event("phone_number_username_update", "rejected", "lucky", T0 + 303),
                    "rejection_reason": "NOT_AVAILABLE, UNKNOWN",
                }
            ]
        },
    ),
]
