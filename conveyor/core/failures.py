"""Activity failures Temporal can keep: short messages, the details in the worker's log.

Temporal keeps an activity's last failure while it retries, and truncates one over 4 KB to
"Failure exceeds size limit" (a server limit). A database error's text carries its SQL and
parameters, and a Python traceback adds kilobytes, so the reason an activity keeps failing
was exactly what the Temporal UI lost. This interceptor logs the whole exception on the worker
and hands Temporal a bounded one instead: the same type name (retry policies match it), the
first line of its message, no traceback.
"""

import logging

from temporalio import activity
from temporalio.exceptions import ApplicationError, TemporalError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

log = logging.getLogger(__name__)
# Characters of an exception's own text kept in the failure Temporal records.
MESSAGE_CHARS = 500


def bounded_message(exc: BaseException) -> str:
    """What Temporal is told about `exc` beside its type: its first line, bounded (a database
    error's SQL and parameters follow on the next ones)."""
    text = next(iter(str(exc).strip().splitlines()), "")
    if len(text) > MESSAGE_CHARS:
        text = text[:MESSAGE_CHARS] + " … (the worker's log has the rest)"
    return text or type(exc).__name__


class BoundedFailures(Interceptor):
    """Registered on the worker: every activity's unexpected exception, bounded."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _BoundedActivity(next)


class _BoundedActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> object:
        try:
            return await super().execute_activity(input)
        except TemporalError:  # ours (ApplicationError) and Temporal's own (cancelled): as they are
            raise
        except Exception as exc:
            info = activity.info()
            log.exception(
                "activity %s of %s failed (attempt %d)",
                info.activity_type,
                info.workflow_id,
                info.attempt,
            )
            raise ApplicationError(bounded_message(exc), type=type(exc).__name__) from None
