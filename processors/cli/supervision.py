"""Commands that drain (worker, drain, replay --wait) run it under the batch deadline."""

from __future__ import annotations

from collections.abc import Callable

import click

from processors.pipeline.deadline import DEADLINE_REJECTION, supervise
from processors.pipeline.drain import reject_overrun
from receiver.config import Settings


def supervised(
    settings: Settings,
    run: Callable[[], None],
    *,
    tidy: Callable[[], None] | None = None,
    on_rejected: Callable[[int], None] | None = None,
    on_line: Callable[[bytes], None] | None = None,
) -> int:
    """Run `run` in a child process under the batch deadline; its exit status.

    Call it before the command opens pools or threads. When an event overruns the
    deadline and its child is killed: `tidy()` first (whatever the child left
    behind), then the event is rejected, said on stderr and given to `on_rejected`,
    and `run` starts again in a new child. Lines the child reports reach `on_line`.
    """

    def child() -> int:
        try:
            run()
        except click.ClickException as exc:  # one line, as the command would have said it
            exc.show()
            return exc.exit_code
        return 0

    def overran(event_id: int) -> None:
        try:
            if tidy is not None:
                tidy()
        finally:
            if reject_overrun(settings.database_url, event_id):
                click.echo(f"event {event_id} rejected: {DEADLINE_REJECTION}", err=True)
                if on_rejected is not None:
                    on_rejected(event_id)

    return supervise(child, deadline=settings.batch_deadline, on_overrun=overran, on_line=on_line)
