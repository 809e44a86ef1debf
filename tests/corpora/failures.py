"""Failed statuses whose error codes the reference table classifies (or does not know)."""

from __future__ import annotations

from tests.corpora.pricing import DAY, S, delivery, status, statuses
from tests.support.bodies import Case


def failure(code: int, title: str, details: str) -> str:
    """The `errors` of a failed Cloud status."""
    return (
        '"errors":[{"code":'
        + str(code)
        + ',"title":"'
        + title
        + '","message":"'
        + title
        + '","error_data":{"details":"'
        + details
        + '"},'
        '"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]'
    )


CASES = [
    Case(
        "cloud status failed 131049: Meta's marketing frequency cap, with the callback tag",
        statuses(
            status(
                "wamid.FCAP",
                "failed",
                S + 70,
                '"biz_opaque_callback_data":"campaign=summer-25",'
                + failure(
                    131049,
                    "This message was not delivered to maintain healthy ecosystem engagement.",
                    "In order to maintain a healthy ecosystem engagement,"
                    " the message failed to be delivered.",
                ),
            )
        ),
        statuses={
            ("wamid.FCAP", "failed", S + 70): {
                "error_codes": [131049],
                "biz_opaque_callback_data": "campaign=summer-25",
            }
        },
        views={
            "failures_daily": [{"day": DAY, "error_code": 131049, "error_class": "frequency_cap"}],
            "delivery_status": [
                delivery(
                    "wamid.FCAP",
                    status="failed",
                    error_codes=[131049],
                    biz_opaque_callback_data="campaign=summer-25",
                    pricing_model=None,
                )
            ],
        },
    ),
    Case(
        "cloud status failed 131026: undeliverable",
        statuses(
            status(
                "wamid.UNDL",
                "failed",
                S + 80,
                failure(131026, "Message undeliverable", "Message Undeliverable."),
            )
        ),
        statuses={("wamid.UNDL", "failed", S + 80): {"error_codes": [131026]}},
        views={
            "failures_daily": [
                {
                    "error_code": 131026,
                    "error_title": "Message undeliverable",
                    "error_class": "undeliverable",
                }
            ]
        },
    ),
    Case(
        "cloud status failed 131047: the customer service window is closed",
        statuses(
            status(
                "wamid.WCLS",
                "failed",
                S + 90,
                failure(
                    131047,
                    "Re-engagement message",
                    "Message failed to send because more"
                    " than 24 hours have passed since the customer last replied to this"
                    " number.",
                ),
            )
        ),
        statuses={("wamid.WCLS", "failed", S + 90): {"error_codes": [131047]}},
        views={"failures_daily": [{"error_code": 131047, "error_class": "window_closed"}]},
    ),
    Case(
        "cloud status failed with a code the reference table does not know",
        statuses(
            status(
                "wamid.FNEW",
                "failed",
                S + 100,
                failure(139999, "A future error", "Something Meta adds one day."),
            )
        ),
        statuses={("wamid.FNEW", "failed", S + 100): {"error_codes": [139999]}},
        views={"failures_daily": [{"error_code": 139999, "error_class": "other", "messages": 1}]},
    ),
]
