"""One base for wabahook's own errors, and the CLI catches that base."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import click
import pytest

import processors
import receiver
from processors.cli.common import errors_as_messages
from receiver.errors import WabahookError


def own_exception_classes() -> list[type[BaseException]]:
    """Every exception class defined in receiver/ and processors/."""
    found = []
    for package in (receiver, processors):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name.endswith("__main__"):  # runs the CLI when imported
                continue
            loaded = importlib.import_module(module.name)
            for _, value in inspect.getmembers(loaded, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == loaded.__name__:
                    found.append(value)
    return found


def test_every_error_of_ours_derives_from_the_one_base() -> None:
    classes = own_exception_classes()
    assert len(classes) >= 15
    strays = [
        f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, WabahookError)
    ]
    assert strays == []


def test_an_error_raised_without_a_message_says_its_docstring() -> None:
    class Refused(WabahookError):
        """The thing was refused.

        More words that are not the message.
        """

    assert str(Refused()) == "The thing was refused."
    assert str(Refused("named reason")) == "named reason"


def test_the_cli_turns_any_of_them_into_one_line() -> None:
    class Unexpected(WabahookError):
        """Something new went wrong."""

    with pytest.raises(click.ClickException) as said, errors_as_messages():
        raise Unexpected("first line\nsecond line")
    assert said.value.message == "first line"
