"""The order's people: quotes, credit approval, tasks with SLA timers and escalation."""

import asyncio
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.order_activities import OrderActivities
    from activities.task_activities import TaskActivities
    from conveyor.core.temporal import order_workflow_id
    from workflows.types import (
        CancelRequest,
        CreateTaskInput,
        EscalateTaskInput,
        PlannedStep,
        QuoteVoided,
        SalesOrderNames,
        SiblingQuotes,
        TaskRef,
    )


from workflows.v7.order_plumbing import OrderPlumbing, display_time
from workflows.v7.versions import PATCH_QUOTES


class OrderPeople(OrderPlumbing):
    """The order's people: quotes, credit approval, tasks with SLA timers and escalation."""

    async def _quote(self, planned: PlannedStep) -> None:
        """The order is a quote until accepted (task completed); unanswered, it expires.

        v4: the quote is mailed to the customer with its validity, a reminder goes out before it
        expires, and accepting it voids the other open quotes of the same opportunity.
        """
        assert self._input is not None
        validity = self._input.quote_validity_seconds
        self._status = "quote"
        await self._progress("quote_sent", "quote sent to the customer", status="quote")
        v4 = workflow.patched(PATCH_QUOTES)
        if v4:
            valid_until = workflow.now() + timedelta(seconds=validity)
            self._notify(
                "quote_sent", "quote:sent", extra={"valid_until": display_time(valid_until)}
            )
            self._pending_reminders.append(
                asyncio.create_task(self._remind_before_quote_expiry(valid_until))
            )
        try:
            await self._human_task(planned, expires_after=validity)
        finally:
            self._quote_answered = True
        self._status = "open"
        await self._progress("quote_accepted", "quote accepted", status="open")
        if v4:
            self._notify("order_confirmation", "confirmation")
            await self._void_sibling_quotes()

    async def _remind_before_quote_expiry(self, valid_until: datetime) -> None:
        assert self._input is not None
        lead = self._input.quote_reminder_before_seconds
        validity = self._input.quote_validity_seconds
        # A quote shorter than the reminder lead is reminded half-way through.
        wait = validity - lead if lead < validity else validity / 2
        try:
            await workflow.wait_condition(
                lambda: self._quote_answered, timeout=timedelta(seconds=max(wait, 0.001))
            )
            return
        except TimeoutError:
            pass
        await self._progress(
            "quote_expiring", f"quote reminder: valid until {display_time(valid_until)}"
        )
        self._notify(
            "quote_expiring", "quote:expiring", extra={"valid_until": display_time(valid_until)}
        )

    async def _void_sibling_quotes(self) -> None:
        siblings: SiblingQuotes = await self._call(OrderActivities.find_sibling_quotes, self._ref())
        for number in siblings.order_numbers:
            try:
                await workflow.get_external_workflow_handle(order_workflow_id(number)).signal(
                    SalesOrderNames.QUOTE_VOIDED, QuoteVoided(self._number())
                )
            except Exception:  # noqa: BLE001 - it finished meanwhile; nothing left to void
                workflow.logger.info("quote %s was already closed", number)
                continue
            await self._progress("quote_voided", f"quote {number} voided: this quote accepted")

    async def _check_credit(self) -> None:
        """Over the credit limit: a credit approval task; refused means cancelled."""
        result = await self._call(OrderActivities.check_credit, self._ref())
        if result.approved:
            return
        await self._progress("credit_hold", f"credit check: {result.reason}", step="allocation")
        await self._human_task(
            PlannedStep(step="allocation", mode="task", role="credit", assign="round_robin"),
            key_suffix="credit-approval",
        )

    async def _human_task(
        self, planned: PlannedStep, key_suffix: str = "task", expires_after: float | None = None
    ) -> None:
        """Create the step's task and wait for its outcome (or cancel, or expiry)."""
        assert planned.role, "a task step needs a role"
        created = workflow.now()
        task = await self._call(
            TaskActivities.create_task,
            CreateTaskInput(
                order_number=self._number(),
                key=f"{self._number()}:{planned.step}:{key_suffix}",
                step=planned.step,
                role=planned.role,
                assign=planned.assign,
                sla_seconds=planned.sla_seconds,
                fallback=planned.fallback,
            ),
        )
        self._pending_task_id = task.task_id
        who = f", assigned to {task.assignee_email}" if task.assignee_email else ", in the pool"
        await self._progress(
            "task_created", f"task {task.task_id} for role {planned.role}{who}", step=planned.step
        )
        self._set_assignee(task.assignee_email)
        self._notify("task_assigned", f"task:{task.task_id}:assigned", task_id=task.task_id)
        if self._v2:
            await self._await_task_with_sla(task, planned)
        timeout = None
        if expires_after is not None:
            elapsed = (workflow.now() - created).total_seconds()
            timeout = timedelta(seconds=max(expires_after - elapsed, 0.001))
        try:
            await workflow.wait_condition(
                lambda: task.task_id in self._outcomes or self._cancel is not None,
                timeout=timeout,
            )
        except TimeoutError:
            self._cancel = CancelRequest(reason=f"{planned.step} expired unanswered")
        self._pending_task_id = None
        self._set_assignee(None)
        self._raise_if_cancelled()
        outcome = self._outcomes[task.task_id]
        await self._progress(
            "task_completed",
            f"task {task.task_id}: {outcome.outcome}"
            + (f" ({outcome.note})" if outcome.note else ""),
            step=planned.step,
            actor=outcome.actor,
        )
        if outcome.outcome == "rejected":
            self._cancel = CancelRequest(reason=f"{planned.step} rejected", actor=outcome.actor)
            self._raise_if_cancelled()

    async def _await_task_with_sla(self, task: TaskRef, planned: PlannedStep) -> None:
        """Durable SLA timers: remind the assignee, then reassign or escalate, as the rule says."""
        started = workflow.now()

        async def done_within(seconds: float) -> bool:
            remaining = seconds - (workflow.now() - started).total_seconds()
            try:
                await workflow.wait_condition(
                    lambda: task.task_id in self._outcomes or self._cancel is not None,
                    timeout=timedelta(seconds=max(remaining, 0.001)),
                )
                return True
            except TimeoutError:
                return False

        if planned.remind_after_seconds and not await done_within(planned.remind_after_seconds):
            await self._escalate(task.task_id, "remind", None, planned.step)
        if (
            planned.escalate_after_seconds
            and planned.escalation_action
            and not await done_within(planned.escalate_after_seconds)
        ):
            await self._escalate(
                task.task_id, planned.escalation_action, planned.escalation_role, planned.step
            )

    async def _escalate(self, task_id: int, action: str, to_role: str | None, step: str) -> None:
        result = await self._call(
            TaskActivities.escalate_task,
            EscalateTaskInput(task_id=task_id, action=action, to_role=to_role),
        )
        if result.action == "none":
            return
        kind = "sla_reminder" if action == "remind" else "escalated"
        await self._progress(kind, f"task {task_id}: {result.message}", step=step)
        if action == "remind":
            self._notify("task_reminder", f"task:{task_id}:reminder", task_id=task_id)
        else:
            self._set_assignee(result.assignee_email)
            self._notify(
                "task_escalated",
                f"task:{task_id}:escalated",
                task_id=task_id,
                to_role=to_role if action == "escalate" else None,
            )
