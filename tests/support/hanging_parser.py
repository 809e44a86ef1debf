"""The wabahook CLI with a nesting check that hangs, to prove the batch deadline.

It puts back the check of an earlier version, whose string pattern needed the closing
quote and so restarted at every escaped quote of an unterminated string: on a body built
for it, a worker sat in the regular expression for hours, holding the GIL. Run as
`python -m tests.support.hanging_parser ARGS…`, like `wabahook ARGS…`.
"""

from __future__ import annotations

import re

from processors.cli import main
from processors.pipeline import parse

_QUADRATIC = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)


def hanging_too_deep(body: bytes) -> bool:
    """The earlier check: linear on most bodies, quadratic on the one it hangs on."""
    if body.count(b"[") + body.count(b"{") <= parse.MAX_DEPTH:
        return False
    depth = 0
    for token in _QUADRATIC.finditer(body):
        if token.group()[:1] in (b"[", b"{"):
            depth += 1
            if depth > parse.MAX_DEPTH:
                return True
        elif token.group()[:1] in (b"]", b"}"):
            depth -= 1
    return False


parse.too_deep = hanging_too_deep  # type: ignore[assignment]

if __name__ == "__main__":
    main()
