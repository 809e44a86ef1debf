"""Joining identity links: the person_id rule and the grouping of links into people."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from processors.pipeline.people import Person, _groups, person_id_of


def test_the_person_id_is_the_smallest_user_id_else_the_smallest_phone_number() -> None:
    assert person_id_of([("phone", "1"), ("user", "US.9"), ("user", "US.10")]) == ("US.10", "user")
    assert person_id_of([("phone", "49"), ("phone", "1555"), ("parent", "US.ENT.1")]) == (
        "1555",
        "phone",
    )
    # Compared as UTF-8 bytes (PostgreSQL's C collation), not as a locale would.
    assert person_id_of([("user", "US.a"), ("user", "US.B"), ("user", "US.é")])[0] == "US.B"
    with pytest.raises(ValueError, match="neither"):
        person_id_of([("parent", "US.ENT.1")])


def test_links_that_share_an_identifier_or_a_stored_person_are_one_group() -> None:
    known = {
        ("phone", "1"): Person(7, "US.1", "user", 3),
        ("user", "US.5"): Person(7, "US.1", "user", 3),
    }
    links = [
        [("phone", "2"), ("user", "US.2")],
        [("user", "US.2"), ("phone", "3")],
        [("phone", "1"), ("user", "US.9")],
        [("user", "US.5"), ("phone", "4")],  # joined to the link above through person 7
        [("phone", "8")],
    ]
    groups = sorted((sorted(group), components) for group, components in _groups(links, known))
    assert groups == [
        ([("phone", "1"), ("phone", "4"), ("user", "US.5"), ("user", "US.9")], {7}),
        ([("phone", "2"), ("phone", "3"), ("user", "US.2")], set()),
        ([("phone", "8")], set()),
    ]


def test_a_phone_number_and_a_user_id_of_the_same_string_are_one_person() -> None:
    # Stored or in the batch: two people never share a person_id.
    known = {("user", "15550001"): Person(3, "15550001", "user", 1)}
    links = [[("phone", "15550001")], [("phone", "42")], [("user", "42")], [("parent", "42")]]
    groups = sorted((sorted(group), components) for group, components in _groups(links, known))
    assert groups == [
        ([("parent", "42")], set()),  # a parent id is never a person_id: no twin
        ([("phone", "15550001")], {3}),  # twin of a stored user id
        ([("phone", "42"), ("user", "42")], set()),  # twins of one batch, in two links
    ]


@given(st.lists(st.lists(st.sampled_from("abcdefgh"), min_size=1, max_size=3), max_size=12))
def test_grouping_does_not_depend_on_the_order_of_links(links: list[list[str]]) -> None:
    as_ids = [[("phone", x) for x in link] for link in links]
    forward = sorted(sorted(g) for g, _ in _groups(as_ids, {}))
    backward = sorted(sorted(g) for g, _ in _groups(list(reversed(as_ids)), {}))
    assert forward == backward
    assert sorted(i for g in forward for i in g) == sorted({i for link in as_ids for i in link})
