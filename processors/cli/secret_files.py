"""Secrets the CLI reads from files (never from its command line), and the sealer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TextIO, TypeVar

import click

import processors.cli.common as cli
from processors.channels import meta
from receiver.config import KEY_RECIPE, MAX_SECRET_FILE_BYTES, Secret
from receiver.sealing import Sealer

F = TypeVar("F", bound=Callable[..., Any])


def secret_file_option(*names: str, help_text: str) -> Callable[[F], F]:
    """An option naming a file a secret is read from: never the secret on the command line."""
    return click.option(
        *names, type=click.File("r", encoding="utf-8"), help=f"{help_text} (- reads stdin)"
    )


def secret_text(
    source: TextIO | None, variable: str, option: str, what: str, from_env: Secret | None
) -> str:
    """A provider's credential from a file option or the environment, checked, never shown."""
    text = file_text(source, option) if source else (from_env.reveal() if from_env else "")
    text = text.strip()
    if not text:
        cli.fail(f"no {what}: set {variable} or use {option}")
    # It travels in an HTTP header: only visible ASCII survives there.
    if not all("!" <= c <= "~" for c in text):
        cli.fail(f"the {what} may hold only visible ASCII characters, no spaces")
    return text


def read_secret(source: TextIO, option: str, what: str) -> str:
    """A meta channel's secret from a file given on the command line (never the secret)."""
    text = file_text(source, option)
    with cli.errors_as_messages():
        return meta.check_secret_text(text, what)


def file_text(source: TextIO, option: str) -> str:
    """The text of a secret's file, bounded: a wrong path (a device, a log) is not read whole."""
    try:
        text = source.read(MAX_SECRET_FILE_BYTES + 1)
    except UnicodeDecodeError:
        cli.fail(f"{option} is not a text file")
    if len(text) > MAX_SECRET_FILE_BYTES:
        cli.fail(f"{option} is larger than 64 KiB; is it the right file?")
    return text


def key_sealer() -> Sealer:
    """The sealer of WABAHOOK_SECRET_KEY, or a one-line error saying how to make one."""
    sealer = Sealer.of(cli.command_settings().secret_key)
    if sealer is None:
        cli.fail(
            "signed channels and destinations need WABAHOOK_SECRET_KEY (or _FILE) to seal their"
            f" secrets; make one with: {KEY_RECIPE}"
        )
    return sealer
