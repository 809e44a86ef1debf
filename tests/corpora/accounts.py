"""Management notifications about phone numbers and the account."""

from __future__ import annotations

from tests.corpora.management import management
from tests.support.bodies import T0, WABA, Case

PHONE_NUMBER_CASES = [
    Case(
        "phone number flagged",
        management(
            "phone_number_quality_update",
            '{"display_phone_number":"15550783881","event":"FLAGGED","current_limit":"TIER_10K"}',
            T0 + 100,
        ),
        views={
            "phone_number_events": [
                {
                    "waba_id": WABA,
                    "display_phone_number": "15550783881",
                    "field": "phone_number_quality_update",
                    "event": "FLAGGED",
                    "old_limit": None,
                    "current_limit": "TIER_10K",
                    "event_at": T0 + 100,
                }
            ]
        },
    ),
    Case(
        "phone number limit downgraded",
        management(
            "phone_number_quality_update",
            '{"display_phone_number":"15550783881","event":"DOWNGRADE","old_limit":"TIER_10K",'
            '"current_limit":"TIER_2K","max_daily_conversations_per_business":"TIER_2K"}',
            T0 + 110,
        ),
        views={
            "phone_number_events": [
                {
                    "event": "DOWNGRADE",
                    "old_limit": "TIER_10K",
                    "current_limit": "TIER_2K",
                    "max_daily_conversations": "TIER_2K",
                    "event_at": T0 + 110,
                }
            ]
        },
    ),
    Case(
        "phone number limit upgraded, without entry.time",
        management(
            "phone_number_quality_update",
            '{"display_phone_number":"15550783881","event":"UPGRADE",'
            '"max_daily_conversations_per_business":100000}',
            None,
        ),
        views={
            "phone_number_events": [
                {"event": "UPGRADE", "max_daily_conversations": "100000", "current_limit": None}
            ]
        },
    ),
    Case(
        "phone number name approved",
        management(
            "phone_number_name_update",
            '{"display_phone_number":"15550783881","decision":"APPROVED",'
            '"requested_verified_name":"Lucky Shrub","rejection_reason":null}',
            T0 + 120,
        ),
        views={
            "phone_number_events": [
                {
                    "field": "phone_number_name_update",
                    "event": "APPROVED",
                    "requested_name": "Lucky Shrub",
                    "rejection_reason": None,
                    "event_at": T0 + 120,
                }
            ]
        },
    ),
    Case(
        "phone number name rejected",
        management(
            "phone_number_name_update",
            '{"display_phone_number":"15550783881","decision":"REJECTED",'
            '"requested_verified_name":"Best Shrub Ever!!",'
            '"rejection_reason":"NAME_FORMAT_UNACCEPTABLE"}',
            T0 + 130,
        ),
        views={
            "phone_number_events": [
                {
                    "event": "REJECTED",
                    "requested_name": "Best Shrub Ever!!",
                    "rejection_reason": "NAME_FORMAT_UNACCEPTABLE",
                    "event_at": T0 + 130,
                }
            ]
        },
    ),
]

ACCOUNT_CASES = [
    Case(
        "account disabled (ban_info)",
        management(
            "account_update",
            '{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":["SCHEDULE_FOR_DISABLE"],'
            '"waba_ban_date":"April 17, 2025"}}',
            T0 + 200,
        ),
        views={
            "account_events": [
                {
                    "waba_id": WABA,
                    "field": "account_update",
                    "event": "DISABLED_UPDATE",
                    "severity": None,
                    "event_at": T0 + 200,
                    "details": {
                        "event": "DISABLED_UPDATE",
                        "ban_info": {
                            "waba_ban_state": ["SCHEDULE_FOR_DISABLE"],
                            "waba_ban_date": "April 17, 2025",
                        },
                    },
                }
            ]
        },
    ),
    Case(
        "account violation (violation_info)",
        management(
            "account_update",
            '{"event":"ACCOUNT_VIOLATION","violation_info":{"violation_type":"ADULT"}}',
            T0 + 210,
        ),
        views={"account_events": [{"event": "ACCOUNT_VIOLATION", "event_at": T0 + 210}]},
    ),
    Case(
        "account restriction (restriction_info)",
        management(
            "account_update",
            '{"event":"ACCOUNT_RESTRICTION","restriction_info":[{"restriction_type":'
            '"RESTRICTED_BIZ_INITIATED_MESSAGING","expiration":1750086400}]}',
            T0 + 220,
        ),
        views={"account_events": [{"event": "ACCOUNT_RESTRICTION", "event_at": T0 + 220}]},
    ),
    Case(
        "account alert",
        management(
            "account_alerts",
            '{"entity_type":"WABA","entity_id":"' + WABA + '","alert_info":{'
            '"alert_severity":"CRITICAL","alert_status":"ACTIVE",'
            '"alert_type":"OBA_APPROVED",'
            '"alert_description":"Official business account approved."}}',
            T0 + 230,
        ),
        views={
            "account_events": [
                {
                    "field": "account_alerts",
                    "event": "OBA_APPROVED",
                    "severity": "CRITICAL",
                    "entity_type": "WABA",
                    "entity_id": WABA,
                    "alert_status": "ACTIVE",
                    "event_at": T0 + 230,
                }
            ]
        },
    ),
    Case(
        "business capability update",
        management(
            "business_capability_update",
            '{"max_daily_conversations_per_business":2000,"max_phone_numbers_per_business":25}',
            T0 + 240,
        ),
        views={
            "account_events": [
                {"field": "business_capability_update", "event": None, "event_at": T0 + 240}
            ]
        },
    ),
    Case(
        "security: PIN changed",
        management(
            "security",
            '{"display_phone_number":"15550783881","event":"PIN_CHANGED","requester":"2329417887457253"}',
            T0 + 250,
        ),
        views={
            "account_events": [
                {
                    "field": "security",
                    "event": "PIN_CHANGED",
                    "display_phone_number": "15550783881",
                    "event_at": T0 + 250,
                }
            ]
        },
    ),
    Case(
        "a partner added to a WABA: the event comes under the partner's id",
        management(
            "account_update",
            '{"event":"PARTNER_ADDED","waba_info":{"waba_id":"980198427658004",'
            '"owner_business_id":"2329417887457253","solution_id":"1715120619246906"}}',
            T0 + 400,
        ),
        views={
            "account_events": [
                {
                    "waba_id": "980198427658004",
                    "field": "account_update",
                    "event": "PARTNER_ADDED",
                    "event_at": T0 + 400,
                }
            ]
        },
    ),
    Case(
        "a volume pricing tier update and an offboarded Coexistence companion",
        management(
            "account_update",
            '{"event":"VOLUME_BASED_PRICING_TIER_UPDATE","volume_tier_info":{"tier_update_time":'
            '1743451903,"pricing_category":"UTILITY","tier":"25000001:50000000"}}',
            T0 + 410,
        ),
        views={
            "account_events": [
                {"waba_id": WABA, "event": "VOLUME_BASED_PRICING_TIER_UPDATE", "event_at": T0 + 410}
            ]
        },
    ),
    Case(
        "an account review decided",
        management("account_review_update", '{"decision":"APPROVED"}', T0 + 420),
        views={
            "account_events": [
                {"waba_id": WABA, "field": "account_review_update", "event": "APPROVED"}
            ]
        },
    ),
    Case(
        "payment configuration and partner solution changes, kept whole",
        management(
            "payment_configuration_update",
            '{"configuration_name":"upi-1","provider_name":"razorpay","status":"Active"}',
            T0 + 430,
        ),
        views={
            "account_events": [
                {
                    "field": "payment_configuration_update",
                    "event": None,
                    "details": {
                        "configuration_name": "upi-1",
                        "provider_name": "razorpay",
                        "status": "Active",
                    },
                }
            ]
        },
    ),
    Case(
        "a flow published",
        management(
            "flows",
            '{"event":"FLOW_STATUS_CHANGE","message":"Flow Signup changed status from DRAFT to'
            ' PUBLISHED","flow_id":"1097420589034000","old_status":"DRAFT",'
            '"new_status":"PUBLISHED"}',
            T0 + 440,
        ),
        views={
            "flow_events": [
                {
                    "waba_id": WABA,
                    "flow_id": "1097420589034000",
                    "event": "FLOW_STATUS_CHANGE",
                    "old_status": "DRAFT",
                    "new_status": "PUBLISHED",
                    "event_at": T0 + 440,
                }
            ]
        },
    ),
]

CASES: list[Case] = PHONE_NUMBER_CASES + ACCOUNT_CASES
