"""A stored body as people read it: text or base64, JSON re-indented, never too long."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from processors.pipeline.parse import UTF8_BOM, too_deep

# The most of a body `events show` and the console display, re-indented or not: 256 KiB
# of text is thousands of lines. The exact bytes are `events show --raw` or a download.
SHOWN_CHARS = 256 * 1024


def body_text(body: bytes) -> tuple[str, str]:
    """The body for JSON output: (text, "utf-8") when it decodes, else (base64, "base64")."""
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"


@dataclass(frozen=True, slots=True)
class ShownBody:
    """A stored body as `events show` and the console display it: bounded, never markup."""

    text: str
    kind: str  # "JSON" (re-indented), "utf-8" (as stored) or "base64" (not UTF-8: \xNN shown)
    cut: bool  # only the first SHOWN_CHARS characters are shown


def shown_body(body: bytes, limit: int = SHOWN_CHARS) -> ShownBody:
    """What to display of `body`: at most `limit` characters, however it indents."""
    pretty = pretty_json(body, limit)
    if pretty is not None:
        return ShownBody(pretty[0], "JSON", pretty[1])
    try:
        text, kind = body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        # Each byte shows as at most four characters: decode no more than can be shown.
        text, kind = body[: limit + 1].decode("utf-8", "backslashreplace"), "base64"
    return ShownBody(text[:limit], kind, len(text) > limit or len(body) > limit + 1)


def pretty_json(body: bytes, limit: int = SHOWN_CHARS) -> tuple[str, bool] | None:
    """The body re-indented when it is a JSON document, else None.

    At most `limit` characters, and True when cut there: indenting multiplies a deeply
    nested body (a megabyte of brackets would become hundreds), so the encoder is
    stopped once it has made enough. Nesting is judged on the bytes first (as the parser
    does): a hostile body must not reach Python's recursion limit.
    """
    text_bytes = body.removeprefix(UTF8_BOM)
    if too_deep(text_bytes):
        return None
    try:
        document = json.loads(text_bytes.decode("utf-8"))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or a number too long
        return None
    readable = json.JSONEncoder(indent=2, ensure_ascii=False)
    text, cut = _first_chars(readable.iterencode(document), limit)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (\ud800) JSON allows: keep it escaped
        text, cut = _first_chars(json.JSONEncoder(indent=2).iterencode(document), limit)
    return text, cut


def _first_chars(chunks: Iterator[str], limit: int) -> tuple[str, bool]:
    """The first `limit` characters the chunks make, and whether there were more."""
    parts: list[str] = []
    size = 0
    for chunk in chunks:  # the encoder makes its chunks lazily: stop it early
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return "".join(parts)[:limit], True
    return "".join(parts), False


def stored_bytes(event: Mapping[str, Any]) -> bytes:
    """The exact stored body of an event from show_event()."""
    if event["body_encoding"] == "utf-8":
        return str(event["body"]).encode("utf-8")
    return base64.b64decode(event["body"])
