"""Task flows: claims, reassignments, completions and clock in/out reach the order workflows.

The database change commits first; then each affected order's workflow gets a `task_assigned`
signal so it can notify the new assignee. A lost signal loses only that e-mail, never the task.
A completion goes to the order's workflow, which records it and resumes.
"""

import logging

from sqlmodel import Session

from conveyor.audit.service import Actor, record
from conveyor.core.errors import Invalid
from conveyor.core.state import AppState, in_session
from conveyor.employee import service as employee_service
from conveyor.employee.models import Caller, Employee
from conveyor.order import flows as order_flows
from conveyor.order.policy import MODIFY_CLEARANCE
from conveyor.purchasing import invoices as supplier_invoices
from conveyor.returns import flows as return_flows
from conveyor.returns import service as return_service
from conveyor.shipping import service as shipping_service
from conveyor.task import assignment, outcomes
from conveyor.task import service as task_service
from conveyor.task.models import Task
from workflows.types import SalesOrderNames, TaskAssigned

log = logging.getLogger(__name__)


def _assigned(
    session: Session, task: Task, reason: str, notify: bool = True
) -> tuple[str | None, TaskAssigned]:
    employee = session.get(Employee, task.assignee_id) if task.assignee_id else None
    return task.order_number, TaskAssigned(
        task_id=task.id or 0,
        assignee_id=task.assignee_id,
        assignee_email=employee.email if employee else None,
        reason=reason,
        notify=notify,
    )


async def claim(state: AppState, *, task_id: int, caller: Caller, actor: Actor) -> Task:
    """`caller` takes a pool task of their role; Conflict when someone else was first. The
    workflow learns who holds it; nobody is mailed (the claimer knows)."""
    task = await in_session(
        state,
        lambda session: task_service.claim_for(
            session=session, task_id=task_id, caller=caller, actor=actor
        ),
    )
    await announce(state, task=task, reason="claimed", notify=False)
    return task


async def reassign(
    state: AppState,
    *,
    task_id: int,
    employee_id: int | None,
    actor: Actor,
    reason: str | None = None,
) -> Task:
    """Give the task to another employee of its role, or back to the pool with None."""
    task = await in_session(
        state,
        lambda session: task_service.reassign_to(
            session=session, task_id=task_id, employee_id=employee_id, actor=actor, reason=reason
        ),
    )
    await announce(state, task=task, reason=f"reassigned by {actor.name}")
    return task


async def complete(
    state: AppState,
    *,
    task_id: int,
    outcome: str,
    note: str | None,
    caller: Caller,
    claim_as: Actor | None = None,
) -> Task:
    """Hand the outcome to the order's workflow, which records it and resumes; the task after.

    With `claim_as`, a pool task is claimed for the caller first (one action: claim and
    complete), so it shows who did it.
    """
    task = await in_session(
        state,
        lambda session: task_service.get_completable(
            session=session, task_id=task_id, caller=caller
        ),
        read_only=True,
    )
    rma_number = return_service.number_of_approval_task(task)
    if rma_number is not None:
        # A return's refund approval: its ReturnWorkflow waits for it, not the order's.
        await return_flows.decide(
            state,
            number=rma_number,
            task_id=task_id,
            outcome=outcome,
            note=note,
            caller=caller,  # a Principal (api.deps): it checks the refunds.approve permission
        )
        return await _reloaded(state, task_id)
    invoice_number = supplier_invoices.number_of_match_task(task)
    if invoice_number is not None:
        # A supplier invoice the match held: no workflow waits; the decision approves (posts)
        # or rejects the invoice and completes the task in one transaction.
        if outcome not in (outcomes.APPROVED, outcomes.REJECTED):
            raise Invalid(f"a held supplier invoice is approved or rejected, not {outcome}")
        if not (note or "").strip():
            raise Invalid(f"say why {invoice_number} is {outcome} despite the differences")
        await in_session(
            state,
            lambda session: supplier_invoices.decide(
                session=session,
                number=invoice_number,
                approve=outcome == outcomes.APPROVED,
                reason=note or "",
                actor=Actor.on_behalf(caller.name),
            ),
        )
        return await _reloaded(state, task_id)
    if task.order_number is None:
        raise task_service.TaskConflictError(f"task {task_id} belongs to no order")
    outcomes.check(task.step, outcome, note=note, cleared=caller.has_clearance(MODIFY_CLEARANCE))
    if claim_as is not None and task.assignee_id is None and caller.employee_id is not None:
        await claim(state, task_id=task_id, caller=caller, actor=claim_as)
    if shipping_service.is_follow_up(task):
        # A shipment failed after its order finished: no workflow waits for this task.
        await in_session(
            state,
            lambda session: task_service.mark_completed(
                session=session, task_id=task_id, outcome=outcome, note=note, actor=caller.name
            ),
        )
        return await _reloaded(state, task_id)
    # A refusal of the workflow (not waiting for this task) is a WorkflowRefusedError: a Conflict.
    await order_flows.complete_task(
        state,
        order_number=task.order_number,
        task_id=task_id,
        outcome=outcome,
        note=note,
        actor=caller.name,
    )
    return await _reloaded(state, task_id)


async def _reloaded(state: AppState, task_id: int) -> Task:
    refreshed = await in_session(
        state, lambda session: task_service.get(session=session, task_id=task_id), read_only=True
    )
    assert refreshed is not None
    return refreshed


def _audit_clock(session: Session, employee: Employee, actor: Actor, action: str) -> None:
    record(
        session,
        actor=actor,
        action=action,
        entity="employee",
        entity_id=employee.id,
        before={"on_duty": action == "employee.clock_out"},
        after={"on_duty": action == "employee.clock_in"},
    )


async def clock_in(state: AppState, *, employee_id: int, caller: Caller, actor: Actor) -> Employee:
    """Clock in, then hand the waiting pool tasks of the employee's roles out by their strategy."""

    def work(session: Session) -> tuple[Employee, list[tuple[str | None, TaskAssigned]]]:
        employee = employee_service.get_own(session=session, employee_id=employee_id, caller=caller)
        was_on_duty = employee.on_duty
        employee_service.clock_in(session=session, employee=employee)
        changes = []
        if not was_on_duty:
            _audit_clock(session, employee, actor, "employee.clock_in")
            for task in assignment.waiting_in_pool(session=session, roles=employee.roles):
                if assignment.assign(session=session, task=task) is not None:
                    task_service.audit_assignment(
                        session=session,
                        task=task,
                        actor=actor,
                        action="task.assign_at_clock_in",
                        before_assignee=None,
                    )
                    changes.append(_assigned(session, task, "assigned at clock-in"))
        return employee, changes

    employee, changes = await in_session(state, work)
    await _notify(state, changes)
    return employee


async def clock_out(state: AppState, *, employee_id: int, caller: Caller, actor: Actor) -> Employee:
    """Clock out, then give the employee's open tasks to someone else on duty (or the pool)."""

    def work(session: Session) -> tuple[Employee, list[tuple[str | None, TaskAssigned]]]:
        employee = employee_service.get_own(session=session, employee_id=employee_id, caller=caller)
        was_on_duty = employee.on_duty
        employee_service.clock_out(session=session, employee=employee)
        if was_on_duty:
            _audit_clock(session, employee, actor, "employee.clock_out")
        changes = []
        for task in assignment.open_tasks_of(session=session, employee_id=employee_id):
            assignment.assign(session=session, task=task, exclude=employee_id)
            task_service.audit_assignment(
                session=session,
                task=task,
                actor=actor,
                action="task.hand_over",
                before_assignee=employee_id,
            )
            changes.append(_assigned(session, task, f"{employee.email} clocked out"))
        return employee, changes

    employee, changes = await in_session(state, work)
    await _notify(state, changes)
    return employee


async def announce(state: AppState, *, task: Task, reason: str, notify: bool = True) -> None:
    """Tell the order's workflow that a task changed hands (`notify`: mail the new holder)."""
    changes = await in_session(state, lambda session: [_assigned(session, task, reason, notify)])
    await _notify(state, changes)


async def _notify(state: AppState, changes: list[tuple[str | None, TaskAssigned]]) -> None:
    if not changes:
        return
    for order_number, change in changes:
        if order_number is None:  # not an order's task: no workflow to tell
            continue
        try:
            handle = await order_flows.workflow_handle(state, order_number)
            await handle.signal(SalesOrderNames.TASK_ASSIGNED, change)
        except Exception:  # noqa: BLE001 - the task is assigned; only the e-mail is at stake
            log.warning("could not tell %s about task %s", order_number, change.task_id)
