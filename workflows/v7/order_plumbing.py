"""Plumbing shared by the order workflow's parts: activity calls, trail, mail, ids."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.notification_activities import NotificationActivities
    from activities.order_activities import OrderActivities
    from conveyor.core.search_attributes import ASSIGNEE
    from workflows.types import (
        CancelRequest,
        CompleteTaskRequest,
        KeyedOrderInput,
        NotifyInput,
        OrderRef,
        RecordProgressInput,
        SalesOrderInput,
        ShipmentInput,
    )


from workflows.v7.versions import PATCH_NOTIFY_AND_SLA  # noqa: F401

MAIL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["OrderNotFound", "InvalidRequest"],
)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["OrderNotFound", "InvalidRequest"],
)


class Cancelled(Exception):
    """Raised inside `run` when a cancel was accepted; unwinds to the compensation."""


def display_time(moment: datetime) -> str:
    """A moment as people read it in mails and the trail."""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


class OrderPlumbing:
    """Plumbing shared by the order workflow's parts: activity calls, trail, mail, ids."""

    # The workflow state the parts share, set in `SalesOrderWorkflow.__init__`. Declared here
    # (annotations only, no values) so each part is type-checked against it.
    _input: SalesOrderInput | None
    _status: str
    _step: str | None
    _cancel: CancelRequest | None
    _pending_task_id: int | None
    _outcomes: dict[int, CompleteTaskRequest]
    _stock_signals: int
    _payment_signals: int
    _stock_committed: bool
    _finished: bool
    _events: int
    _v2: bool
    _mail: list[workflow.ActivityHandle]
    _assignment_changes: int
    _amendments: int
    _amending: int
    _invoiced_at: datetime | None
    _reminders_sent: int
    _quote_answered: bool
    _pending_reminders: list[asyncio.Task]
    _shipment: int
    _units_to_allocate: int
    _packed_any: bool
    _drop_ship: bool
    _purchase_orders: list[str]
    _supplier_signals: int

    def _raise_if_cancelled(self) -> None:
        if self._cancel is not None:
            raise Cancelled()

    def _notify(
        self,
        kind: str,
        suffix: str,
        *,
        task_id: int | None = None,
        to_role: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> None:
        """Send an e-mail without blocking the order; retried with backoff until delivered."""
        if not self._v2:
            return
        assert self._input is not None
        self._mail.append(
            workflow.start_activity_method(
                NotificationActivities.send_notification,
                NotifyInput(
                    key=f"{self._number()}:{suffix}",
                    kind=kind,
                    order_number=self._number(),
                    task_id=task_id,
                    to_role=to_role,
                    extra=extra or {},
                ),
                start_to_close_timeout=timedelta(seconds=self._input.activity_timeout_seconds),
                schedule_to_close_timeout=timedelta(days=3),
                retry_policy=MAIL_RETRY,
            )
        )

    async def _mail_delivered(self) -> None:
        # The order is done; its e-mails still count, so the run waits for them (a mail that
        # fails for good is logged, not allowed to fail the order).
        for handle in self._mail:
            try:
                await handle
            except Exception:  # noqa: BLE001
                workflow.logger.warning("a notification for %s was not delivered", self._number())

    def _set_assignee(self, email: str | None) -> None:
        if not self._v2:
            return
        if email:
            workflow.upsert_search_attributes([ASSIGNEE.value_set(email)])
        else:
            workflow.upsert_search_attributes([ASSIGNEE.value_unset()])

    def _number(self) -> str:
        assert self._input is not None
        return self._input.order_number

    def _ref(self) -> OrderRef:
        return OrderRef(self._number())

    def _shipment_ref(self) -> ShipmentInput:
        return ShipmentInput(self._number(), self._shipment)

    def _keyed(self, what: str) -> KeyedOrderInput:
        return KeyedOrderInput(order_number=self._number(), key=f"{self._number()}:{what}")

    async def _progress(
        self,
        kind: str,
        message: str,
        *,
        step: str | None = None,
        status: str | None = None,
        current: str | None = None,
        clear: bool = False,
        actor: str = "system",
    ) -> None:
        # The key is derived from workflow state, so a retried activity writes the event once.
        self._events += 1
        await self._call(
            OrderActivities.record_progress,
            RecordProgressInput(
                order_number=self._number(),
                key=f"{self._number()}:event:{self._events}",
                kind=kind,
                message=message,
                step=step or self._step,
                status=status,
                current_step=current,
                clear_step=clear,
                actor=actor,
            ),
        )

    async def _call(self, activity_fn: Any, arg: Any) -> Any:
        assert self._input is not None
        return await workflow.execute_activity_method(
            activity_fn,
            arg,
            start_to_close_timeout=timedelta(seconds=self._input.activity_timeout_seconds),
            retry_policy=RETRY,
        )
