"""Purchase values of ad conversions: what numeric(20, 4) takes, rounded as PostgreSQL
rounds; anything else noted and dropped, never an error."""

from __future__ import annotations

from decimal import Decimal

import pytest

from processors.pipeline.projections.conversions import amount_of
from processors.pipeline.values import Notes, TimeWindow


class Event:
    def __init__(self) -> None:
        self.notes = Notes()
        self.window = TimeWindow(0, 2**40)


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (25000, Decimal("25000.0000")),
        ("10.5", Decimal("10.5000")),
        (0.1, Decimal("0.1000")),
        ("1.00005", Decimal("1.0001")),  # half up, as PostgreSQL rounds numeric
        ("-3", Decimal("-3.0000")),
        ("9999999999999999.9999", Decimal("9999999999999999.9999")),
        ("1e-1001", Decimal("0.0000")),  # PostgreSQL refuses the exponent: sent rounded
    ],
)
def test_values_that_fit_are_kept(value: object, kept: Decimal) -> None:
    event = Event()
    assert amount_of(event, value) == kept
    assert not event.notes


@pytest.mark.parametrize(
    "value",
    ["1e1000000", "9999999999999999.99995", "NaN", "Infinity", "abc", [1], {}, "1e16"],
)
def test_values_that_do_not_fit_are_noted_and_dropped(value: object) -> None:
    event = Event()
    assert amount_of(event, value) is None
    assert set(event.notes) == {"unreadable:custom_data.value"}
