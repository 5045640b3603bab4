"""Task inbox page: my tasks and my roles' pool, claim, complete, reassign, clock in and out."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Literal
from urllib.parse import urlencode, urlsplit

from fastapi import Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import DomainError, NotFound
from conveyor.core.state import in_session
from conveyor.employee import service as employee_service
from conveyor.employee.models import SUPERVISOR_ROLE, Attendance, Employee
from conveyor.order.enums import STEPS
from conveyor.pages.auth import redirect
from conveyor.pages.task_context import TaskContext, task_contexts
from conveyor.pages.web import (
    CsrfChecked,
    WebSession,
    WebSessionDep,
    is_htmx,
    page_refusal,
    page_router,
    render,
    require_page,
)
from conveyor.purchasing.invoice_models import INVOICE_MATCH_STEP
from conveyor.report import service as report_service
from conveyor.shipping import flows as shipping_flows
from conveyor.shipping.models import ShipmentDetails
from conveyor.task import flows as task_flows
from conveyor.task import outcomes
from conveyor.task import service as task_service
from conveyor.task.models import Task

router = page_router()
Scope = Literal["mine", "pool", "all"]
Sort = Literal["due", "created", "-created", "-due"]
# Task cards per inbox page; the next ones follow the page's cursor (`after`).
CARDS_PER_PAGE = 50


@dataclass
class InboxRow:
    """A task with what the inbox shows next to it."""

    task: Task
    sla: str | None
    customer: str
    total: str
    assignee: str | None
    context: TaskContext | None = None
    link: str = ""  # the order's page, or the page of what a task without an order is about


@dataclass
class Filters:
    scope: Scope = "mine"
    step: str = ""
    sort: Sort = "due"
    overdue: bool = False
    after: str = ""  # the cursor this page starts after ("": the first page)

    def query(self, **changes: str) -> str:
        """These filters as a query string, with `changes` applied."""
        values = {"scope": self.scope, "step": self.step, "sort": self.sort}
        values |= {"overdue": "true"} if self.overdue else {}
        values |= {"after": self.after} if self.after else {}
        values |= changes
        return urlencode({k: v for k, v in values.items() if v})


def _filters(
    scope: Annotated[Scope, Query()] = "mine",
    step: Annotated[str, Query(max_length=16)] = "",
    sort: Annotated[Sort, Query()] = "due",
    overdue: Annotated[bool, Query()] = False,
    after: Annotated[str, Query(max_length=200)] = "",
) -> Filters:
    return Filters(
        scope=scope, step=step if step in STEPS else "", sort=sort, overdue=overdue, after=after
    )


@dataclass
class InboxPage:
    """One page of task cards: the rows, how many match, and the next page's cursor."""

    rows: list[InboxRow]
    count: int
    count_exact: bool
    next_cursor: str | None


def inbox_rows(session: Session, principal: Principal, filters: Filters) -> InboxPage:
    """The tasks the filters select, CARDS_PER_PAGE at a time from the filters' cursor, with
    SLA state, customer, total and assignee. The pool view keeps the caller's own tasks in it
    (marked yours): a claimed task stays where it was, and the packing that comes to the picker
    shows up beside it."""
    found_tasks = task_service.list_inbox(
        session=session,
        employee=None if principal.is_admin else principal.employee,
        scope="pool_and_mine" if filters.scope == "pool" else filters.scope,
        step=filters.step or None,
        overdue=True if filters.overdue else None,
        sort=filters.sort,
        limit=CARDS_PER_PAGE,
        after=filters.after or None,
    )
    tasks = found_tasks.rows
    found = report_service.task_lookups(session=session, tasks=tasks)
    contexts = task_contexts(session, tasks, found.orders, found.customers)
    rows = []
    for task in tasks:
        order = found.orders.get(task.order_number) if task.order_number else None
        customer = found.customers.get(order.customer_id) if order else None
        assignee = found.employees.get(task.assignee_id) if task.assignee_id else None
        rows.append(
            InboxRow(
                task=task,
                sla=task_service.sla_state(task),
                customer=customer.name if customer else "—",
                total=f"{order.total:,.2f} {order.currency}" if order else "—",
                assignee=assignee.name if assignee else None,
                context=contexts.get(task.id or 0),
                link=_link(task),
            )
        )
    return InboxPage(rows, found_tasks.count, found_tasks.exact, found_tasks.next_cursor)


def _link(task: Task) -> str:
    if task.order_number:
        return f"/orders/{task.order_number}"
    if task.step == INVOICE_MATCH_STEP and task.subject:
        return f"/purchasing/invoices/{task.subject}"
    return ""


def _list_context(session: Session, principal: Principal, filters: Filters) -> dict:
    found = inbox_rows(session, principal, filters)
    rows = found.rows
    supervisor = principal.has_role(SUPERVISOR_ROLE)
    people: dict[str, list[Employee]] = {}
    if supervisor:
        for role in {row.task.role for row in rows}:
            people[role] = employee_service.list_active(session=session, role=role)
    pool_count = 0
    if filters.scope == "mine":
        pool_count = task_service.list_inbox(
            session=session,
            employee=None if principal.is_admin else principal.employee,
            scope="pool",
            limit=1,
        ).count
    return {
        "rows": rows,
        "count": found.count,
        "count_exact": found.count_exact,
        "next_cursor": found.next_cursor,
        "pool_count": pool_count,
        "filters": filters,
        "steps": STEPS,
        "is_supervisor": supervisor,
        "people": people,
        "me": principal.employee_id,
    }


@router.get("/inbox", include_in_schema=False)
def inbox(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_WORK)],
    scope: Annotated[Scope, Query()] = "mine",
    step: Annotated[str, Query(max_length=16)] = "",
    sort: Annotated[Sort, Query()] = "due",
    overdue: Annotated[bool, Query()] = False,
    after: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The inbox page; the list below refreshes itself every few seconds."""
    filters = _filters(scope, step, sort, overdue, after)
    shift: Attendance | None = None
    if principal.employee is not None:
        shifts = employee_service.list_attendance(
            session=session, employee_id=principal.employee.id
        )
        shift = shifts[0] if shifts else None
    context = _list_context(session, principal, filters) | {"shift": shift, "page": "inbox"}
    return render(request, "inbox.html", context, principal=principal)


@router.get("/inbox/tasks", include_in_schema=False)
def inbox_tasks(
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_WORK)],
    scope: Annotated[Scope, Query()] = "mine",
    step: Annotated[str, Query(max_length=16)] = "",
    sort: Annotated[Sort, Query()] = "due",
    overdue: Annotated[bool, Query()] = False,
    after: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The task list alone (htmx polls it)."""
    context = _list_context(session, principal, _filters(scope, step, sort, overdue, after))
    return render(request, "_tasks.html", context, principal=principal)


def _done(request: Request, web: WebSession, message: str, ok: bool = True) -> Response:
    """htmx: a notice and a `tasks-changed` event; plain form: back to the inbox."""
    if is_htmx(request):
        response = render(request, "_notice.html", {"message": message, "ok": ok})
        response.headers["HX-Trigger"] = "tasks-changed"
        return response
    web.flash = message
    # Back to the inbox view the form came from (path and filters only, never another host).
    referer = urlsplit(request.headers.get("referer") or "")
    back = referer.path + (f"?{referer.query}" if referer.query else "")
    return redirect(request, back if back.startswith("/inbox") else "/inbox", web)


async def _act(
    request: Request, web: WebSession, action: Callable[[], Awaitable[object]], success: str
) -> Response:
    try:
        await action()
    except DomainError as exc:  # a refusal (taken, not yours, wrong role) is a notice
        return _done(request, web, exc.message, ok=False)
    return _done(request, web, success)


@router.post("/inbox/tasks/{task_id}/claim", include_in_schema=False, dependencies=[CsrfChecked])
async def claim(
    task_id: int,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_WORK)],
    web: WebSessionDep,
) -> Response:
    """Take a pool task (the same rules as POST /api/tasks/{id}/claim)."""
    return await _act(
        request,
        web,
        lambda: task_flows.claim(
            state, task_id=task_id, caller=principal, actor=principal.actor(Source.PAGE)
        ),
        f"Task {task_id} is yours: it stays in view, marked yours, and is in My tasks.",
    )


@router.post("/inbox/tasks/{task_id}/unclaim", include_in_schema=False, dependencies=[CsrfChecked])
async def unclaim(
    task_id: int,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_WORK)],
    web: WebSessionDep,
) -> Response:
    """Give a task back to the pool."""
    return await _act(
        request,
        web,
        lambda: in_session(
            state,
            lambda session: task_service.unclaim_for(
                session=session,
                task_id=task_id,
                caller=principal,
                actor=principal.actor(Source.PAGE),
            ),
        ),
        f"Task {task_id} is back in the pool.",
    )


def _confirm_first(request: Request, url: str) -> Response:
    """Send the browser to a confirmation page first (htmx: by HX-Redirect)."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": url})
    return redirect(request, url)


def _open_task(session: Session, task_id: int) -> Task:
    task = task_service.get(session=session, task_id=task_id)
    if task is None or task.status != "open":
        raise NotFound(f"task {task_id} is not open")
    return task


@router.get("/inbox/tasks/{task_id}/reject", include_in_schema=False)
def confirm_reject(
    task_id: int,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_WORK)],
) -> Response:
    """Rejecting cancels the order: ask for confirmation and the reason first."""
    try:
        task = _open_task(session, task_id)
    except NotFound as exc:
        return page_refusal(request, exc, principal=principal)
    context = {
        "title": f"Reject the {outcomes.label(task.step)} of {task.order_number}?",
        "message": (
            f"Rejecting cancels order {task.order_number}: its stock is released, its open tasks "
            "close and the customer is told."
        ),
        "action": f"/inbox/tasks/{task_id}/complete",
        "fields": {"outcome": outcomes.REJECTED},
        "reason_label": "Why (the customer is not shown this)",
        "reason_field": "note",
        "button": f"Reject and cancel {task.order_number}",
        "back": "/inbox",
    }
    return render(request, "confirm.html", context, principal=principal)


@router.post("/inbox/tasks/{task_id}/complete", include_in_schema=False, dependencies=[CsrfChecked])
async def complete(
    task_id: int,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_WORK)],
    web: WebSessionDep,
    outcome: Annotated[Literal["done", "approved", "rejected"], Form()] = "done",
    note: Annotated[str, Form(max_length=2000)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
    carrier: Annotated[str, Form(max_length=64)] = "",
    tracking: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Complete with an outcome and a note; the order's workflow resumes. A rejection (it
    cancels the order) is confirmed with a reason on its own page first. A packing task's
    carrier and tracking are recorded on its shipment first."""
    if outcome == outcomes.REJECTED and confirmed != "yes":
        return _confirm_first(request, f"/inbox/tasks/{task_id}/reject")

    async def work() -> Task:
        fields = (("carrier", carrier.strip()), ("tracking", tracking.strip()))
        given = {name: value for name, value in fields if value}
        if given and principal.can(Permission.SHIPMENTS_RECORD):
            await shipping_flows.record_on_packing_task(
                state,
                task_id=task_id,
                details=ShipmentDetails.model_validate(given),
                actor=principal.actor(Source.PAGE),
            )
        return await task_flows.complete(
            state,
            task_id=task_id,
            outcome=outcome,
            note=note.strip() or None,
            caller=principal,
            claim_as=principal.actor(Source.PAGE),  # a pool task: claimed and completed at once
        )

    return await _act(request, web, work, f"Task {task_id} completed ({outcome}).")


@router.get("/inbox/tasks/{task_id}/reassign", include_in_schema=False)
def confirm_reassign(
    task_id: int,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_REASSIGN)],
    employee_id: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """Taking a task away from the person holding it: ask for confirmation and the reason."""
    try:
        task = _open_task(session, task_id)
    except NotFound as exc:
        return page_refusal(request, exc, principal=principal)
    holder = session.get(Employee, task.assignee_id) if task.assignee_id else None
    target = session.get(Employee, int(employee_id)) if employee_id.isdigit() else None
    to = target.name if target else "the pool"
    context = {
        "title": f"Take task {task_id} away from {holder.name if holder else 'its holder'}?",
        "message": f"The {outcomes.label(task.step)} of {task.order_number} goes to {to}.",
        "action": f"/inbox/tasks/{task_id}/reassign",
        "fields": {"employee_id": employee_id},
        "reason_label": "Why (kept in the audit log)",
        "reason_field": "reason",
        "button": f"Give it to {to}",
        "back": "/inbox?scope=all",
    }
    return render(request, "confirm.html", context, principal=principal)


@router.post("/inbox/tasks/{task_id}/reassign", include_in_schema=False, dependencies=[CsrfChecked])
async def reassign(
    task_id: int,
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_REASSIGN)],
    web: WebSessionDep,
    employee_id: Annotated[str, Form(max_length=20)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Give the task to someone of its role, or back to the pool (supervisors only); taking it
    away from the person holding it is confirmed with a reason first."""
    new_holder = int(employee_id) if employee_id.isdigit() else None
    task = await in_session(
        state, lambda session: task_service.get(session=session, task_id=task_id), read_only=True
    )
    taken_away = task is not None and task.assignee_id not in (None, new_holder)
    if taken_away and (confirmed != "yes" or not reason.strip()):
        query = urlencode({"employee_id": employee_id})
        return _confirm_first(request, f"/inbox/tasks/{task_id}/reassign?{query}")
    return await _act(
        request,
        web,
        lambda: task_flows.reassign(
            state,
            task_id=task_id,
            employee_id=new_holder,
            actor=principal.actor(Source.PAGE),
            reason=reason.strip() or None,
        ),
        f"Task {task_id} reassigned.",
    )


@router.post("/inbox/clock", include_in_schema=False, dependencies=[CsrfChecked])
async def clock(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.TASKS_WORK)],
    web: WebSessionDep,
    action: Annotated[Literal["in", "out"], Form()] = "in",
) -> Response:
    """Clock in (waiting pool tasks come to you) or out (your tasks go to others)."""
    if principal.employee is None:
        web.flash = "The admin account does not clock in."
        return redirect(request, "/inbox", web)
    employee_id = principal.employee.id
    if action == "in":
        await task_flows.clock_in(
            state, employee_id=employee_id, caller=principal, actor=principal.actor(Source.PAGE)
        )
        web.flash = "Clocked in. New tasks can come to you."
    else:
        await task_flows.clock_out(
            state, employee_id=employee_id, caller=principal, actor=principal.actor(Source.PAGE)
        )
        web.flash = "Clocked out. Your open tasks went to colleagues on duty."
    return redirect(request, "/inbox", web)
