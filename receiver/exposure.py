"""Where the receiver may listen: on loopback, unless a buffering proxy stands in front.

gunicorn's sync workers serve one connection each: a client that sends half a request
holds a worker until its timeout, so a few such clients stall intake, and an
X-Forwarded-For header is only worth believing when our own proxy wrote it. Reached
directly, the receiver is therefore only offered on loopback (or a unix socket); the
load balancer of deploy/nginx buffers whole requests first and may face the internet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from receiver.errors import WabahookError

BEHIND_PROXY_FLAG = "--behind-proxy"
# Where `wabahook serve` and receiver.gunicorn_conf listen unless told otherwise.
DEFAULT_BIND = "127.0.0.1:8080"


class ExposureError(WabahookError, ValueError):
    """A bind address other machines can reach, without a proxy in front."""


def is_local(bind: str) -> bool:
    """True for a unix socket or a loopback host:port (`localhost`, 127.0.0.0/8, ::1)."""
    if bind.startswith(("unix:", "fd://")):
        return True
    host = bind.rsplit(":", 1)[0] if ":" in bind else bind
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name could resolve anywhere: treat it as public


def check_binds(binds: Iterable[str], *, behind_proxy: bool) -> None:
    """Raise ExposureError for a non-local bind unless a proxy is declared in front."""
    public = [bind for bind in binds if not is_local(bind)]
    if public and not behind_proxy:
        raise ExposureError(
            f"refusing to listen on {', '.join(public)} without {BEHIND_PROXY_FLAG}: reached "
            "directly, slow or half-sent requests can hold every worker and anyone can forge "
            "X-Forwarded-For; put the load balancer of deploy/nginx in front and pass "
            f"{BEHIND_PROXY_FLAG} (WABAHOOK_BEHIND_PROXY=1), or listen on 127.0.0.1"
        )
