"""The one base of wabahook's own errors."""

from __future__ import annotations


class WabahookError(Exception):
    """wabahook could not do what was asked."""

    def __init__(self, *args: object) -> None:
        # Raised without a message, an error says what its class's docstring says.
        super().__init__(*(args or [(type(self).__doc__ or "").strip().splitlines()[0]]))
