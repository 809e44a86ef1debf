"""Reading per-message pricing and the sender's callback tag from statuses, hostile ones too."""

from __future__ import annotations

import json

import pytest

from processors.pipeline.parse import parse
from processors.pipeline.projections.statuses import MAX_CALLBACK_CHARS, StatusUpdate
from tests.corpora import failures
from tests.corpora.pricing import CASES, pmp, status, statuses
from tests.support.bodies import T0


def one_status(rest: str) -> tuple[StatusUpdate, set[str]]:
    """The single status of a Cloud body whose status object has `rest`, and the notes."""
    event = parse(statuses(status("wamid.X", "sent", T0, rest)))
    (update,) = event.of("statuses")
    return update, set(event.notes)


def test_a_pmp_status_gives_model_type_category_and_callback() -> None:
    update, notes = one_status(
        '"biz_opaque_callback_data":"campaign=7",' + pmp("marketing_lite", "regular")
    )
    assert (update.pricing_model, update.pricing_type, update.pricing_category) == (
        "PMP",
        "regular",
        "marketing_lite",
    )
    assert (update.billable, update.biz_opaque_callback_data) == (True, "campaign=7")
    assert not {n for n in notes if "pricing" in n or "callback" in n}


def test_unknown_pricing_types_and_categories_are_kept_as_text() -> None:
    update, _ = one_status(pmp("marketing_plus", "free_something_new"))
    assert (update.pricing_category, update.pricing_type) == (
        "marketing_plus",
        "free_something_new",
    )


def test_a_status_without_pricing_or_tag_has_none() -> None:
    update, notes = one_status("")
    assert (update.pricing_type, update.biz_opaque_callback_data) == (None, None)
    assert not {n for n in notes if "callback" in n}


HOSTILE_TYPES = [
    ('"pricing":{"pricing_model":"PMP","type":"' + "t" * 600 + '"}', "too_long:type"),
    ('"pricing":{"pricing_model":"PMP","type":"' + "€" * 200 + '"}', "too_long:type"),
    ('"pricing":{"pricing_model":"PMP","type":{"a":1}}', None),
    ('"pricing":{"pricing_model":"PMP","type":["regular"]}', None),
    ('"pricing":{"pricing_model":"PMP","type":null}', None),
    ('"pricing":{"pricing_model":"PMP","type":true}', None),
    ('"pricing":{"pricing_model":"PMP","type":1.5}', None),
    ('"pricing":"PMP regular"', None),
    ('"pricing":null', None),
    ('"pricing":[{"type":"regular"}]', None),
]


@pytest.mark.parametrize(("rest", "note"), HOSTILE_TYPES)
def test_a_hostile_pricing_type_is_dropped_and_the_status_kept(rest: str, note: str | None) -> None:
    update, notes = one_status(rest)
    assert update.pricing_type is None
    assert update.message_id == "wamid.X"
    if note is not None:
        assert note in notes


def test_a_numeric_pricing_type_is_text_like_every_label() -> None:
    update, _ = one_status('"pricing":{"pricing_model":"PMP","type":7}')
    assert update.pricing_type == "7"


HOSTILE_TAGS = [
    ('"biz_opaque_callback_data":' + json.dumps("x" * (MAX_CALLBACK_CHARS + 1)), "too_long"),
    ('"biz_opaque_callback_data":12345', "not_a_string"),
    ('"biz_opaque_callback_data":{"campaign":"a"}', "not_a_string"),
    ('"biz_opaque_callback_data":["a"]', "not_a_string"),
    ('"biz_opaque_callback_data":true', "not_a_string"),
    ('"biz_opaque_callback_data":1e400', "not_a_string"),
    ('"biz_opaque_callback_data":123456789012345678901234567890', "not_a_string"),
]


@pytest.mark.parametrize(("rest", "note"), HOSTILE_TAGS)
def test_a_hostile_callback_tag_is_dropped_with_a_note(rest: str, note: str) -> None:
    update, notes = one_status(rest + "," + pmp("utility", "regular"))
    assert update.biz_opaque_callback_data is None
    assert update.pricing_type == "regular"  # the rest of the status is read as usual
    assert f"{note}:biz_opaque_callback_data" in notes


def test_callback_tags_up_to_metas_cap_are_kept_whatever_their_characters() -> None:
    for tag in (
        "x" * MAX_CALLBACK_CHARS,
        "\U0001f469\u200d\U0001f4bb" * 170,
        "a\tb\nc",
        "\u202eRTL",
    ):
        update, notes = one_status('"biz_opaque_callback_data":' + json.dumps(tag))
        assert update.biz_opaque_callback_data == tag
        assert not {n for n in notes if "callback" in n}


def test_an_empty_callback_tag_is_no_tag() -> None:
    update, notes = one_status('"biz_opaque_callback_data":""')
    assert update.biz_opaque_callback_data is None
    assert not {n for n in notes if "callback" in n}


def test_one_hostile_status_leaves_its_siblings_alone() -> None:
    body = statuses(
        status("wamid.A", "sent", T0, '"biz_opaque_callback_data":{"x":1},"pricing":7'),
        status("wamid.B", "sent", T0, '"biz_opaque_callback_data":"ok",' + pmp("service", "x")),
    )
    event = parse(body)
    by_id = {s.message_id: s for s in event.of("statuses")}
    assert set(by_id) == {"wamid.A", "wamid.B"}
    assert (by_id["wamid.B"].biz_opaque_callback_data, by_id["wamid.B"].pricing_type) == ("ok", "x")
    assert (by_id["wamid.A"].biz_opaque_callback_data, by_id["wamid.A"].pricing_type) == (
        None,
        None,
    )


def test_the_pricing_corpus_covers_each_type_and_the_new_categories() -> None:
    parsed = [s for case in CASES + failures.CASES for s in parse(case.body).of("statuses")]
    assert {s.pricing_type for s in parsed} >= {
        "regular",
        "free_customer_service",
        "free_entry_point",
    }
    assert {s.pricing_category for s in parsed} >= {
        "marketing_lite",
        "authentication_international",
    }
    assert {code for s in parsed for code in s.error_codes} >= {131049, 131047, 131026}
    assert any(s.pricing_model == "CBP" and s.billable for s in parsed)
