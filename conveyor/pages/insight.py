"""Workflow monitor and reports pages, with CSV downloads."""

from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Form, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.audit.models import Source
from conveyor.audit.service import Actor, record
from conveyor.auth.permissions import Permission
from conveyor.auth.permissions import refusal as permission_refusal
from conveyor.core import spreadsheet
from conveyor.core.errors import Forbidden
from conveyor.core.state import AppState, in_session
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer
from conveyor.notification import service as notification_service
from conveyor.order import service as order_service
from conveyor.order.enums import STEPS, OrderStatus
from conveyor.order.models import SalesOrder
from conveyor.pages.orders import temporal_url
from conveyor.pages.web import CsrfChecked, page_router, render, require_page
from conveyor.report import kpis as kpi_service
from conveyor.report import service as report_service
from conveyor.report import temporal as report_temporal
from conveyor.shipping import read as shipping_read
from conveyor.storefeedback import service as store_feedback

router = page_router()
STATUSES = tuple(OrderStatus)


def _customers(session: Session, orders: list[SalesOrder]) -> dict[int, Customer]:
    return customer_service.get_many(session=session, ids={o.customer_id for o in orders})


def _live_context(session: Session, state: AppState, extra_orders: list | None = None) -> dict:
    """Counts per step and status, stuck and backordered orders (refreshed every few seconds)."""
    counts = report_service.counts_by_step_and_status(session=session)
    grid = [
        (step, [counts.get((step, s), 0) for s in STATUSES])
        for step in (*STEPS, None)
        if any(counts.get((step, s), 0) for s in STATUSES) or step is not None
    ]
    # A status whose count stopped at the cap shows "10,000+" in its cell and in the total.
    capped = [any((step, s) in counts.capped for step in (*STEPS, None)) for s in STATUSES]
    stuck = report_service.overdue_tasks(session=session)
    backordered, _ = order_service.list_orders(session=session, status=OrderStatus.BACKORDERED)
    shown = [*(extra_orders or []), *backordered, *(o for _, o in stuck)]
    return {
        "statuses": STATUSES,
        "steps": STEPS,
        "grid": grid,
        "capped": counts.capped,
        "totals": [sum(row[i] for _, row in grid) for i in range(len(STATUSES))],
        "totals_capped": capped,
        "stuck": stuck,
        "backordered": backordered,
        "customers": _customers(session, shown),
        "temporal_url": lambda number: temporal_url(state.settings, number),
    }


@router.get("/monitor", include_in_schema=False)
def monitor(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.MONITOR_VIEW)],
    q: Annotated[str, Query(max_length=100)] = "",
    step: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    assignee: Annotated[str, Query(max_length=100)] = "",
    days: Annotated[int, Query(ge=1)] = 7,
) -> Response:
    """Counts per step and state, stuck and backordered orders, search, step durations."""
    days = bounded_days(state, days)
    found = report_service.search_orders(
        session=session,
        q=q or None,
        step=step if step in STEPS else None,
        status=status if status in STATUSES else None,
        assignee=assignee or None,
    )
    since = report_service.utcnow() - timedelta(days=days)
    durations = report_service.step_durations(session=session, since=since)
    context = _live_context(session, state, found) | {
        "page": "monitor",
        "found": found,
        "durations": durations,
        "chart": _durations_chart(durations),
        "shipments": shipping_read.views(session, shipping_read.in_transit(session)),
        "store_feedback": store_feedback.refused(session=session),
        "query": {"q": q, "step": step, "status": status, "assignee": assignee, "days": days},
    }
    return render(request, "monitor.html", context, principal=principal)


@router.get("/monitor/live", include_in_schema=False)
def monitor_live(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.MONITOR_VIEW)],
) -> Response:
    """The live part of the monitor alone (htmx polls it)."""
    context = _live_context(session, state)
    return render(request, "_monitor_live.html", context, principal=principal)


@router.get("/monitor/failing", include_in_schema=False)
async def failing(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.MONITOR_VIEW)],
    notice: str | None = None,
) -> Response:
    """Activities that keep failing (from Temporal), loaded into the monitor by htmx."""
    mails = await in_session(
        state, lambda s: notification_service.list_waiting(session=s), read_only=True
    )
    # Bounded: one round of describes (at most 40 orders, 8 at a time) per cache period,
    # shared by every refresh of every viewer.
    cache = report_temporal.failing_cache(state, state.settings.monitor_cache_seconds)
    error, numbers, activities = None, [], []
    try:
        numbers, activities = await cache.get(
            lambda: in_session(
                state, lambda s: report_service.unfinished_numbers(session=s), read_only=True
            ),
            state.temporal,
        )
    except Exception as exc:  # noqa: BLE001 - show Temporal being down, do not fail the page
        error = f"Temporal is unreachable: {exc}"
    context = {
        "activities": activities,
        "mails": mails,
        "error": error,
        "notice": notice,
        "checked": len(numbers),
        "temporal_url": lambda number: temporal_url(state.settings, number),
    }
    return render(request, "_failing.html", context, principal=principal)


@router.post("/monitor/failing/retry", include_in_schema=False, dependencies=[CsrfChecked])
async def retry(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.MONITOR_RETRY)],
    number: Annotated[str, Form(max_length=32)],
    activity_id: Annotated[str, Form(max_length=100)],
) -> Response:
    """Run a failing activity again now (attempts reset)."""
    notice = await _retry(state, number, activity_id, principal.actor(Source.PAGE))
    return await failing(request, state, principal, notice=notice)


@router.post("/monitor/failing/retry-mail", include_in_schema=False, dependencies=[CsrfChecked])
async def retry_mail(
    request: Request,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.MONITOR_RETRY)],
    message_id: Annotated[int, Form(ge=1)],
) -> Response:
    """Send a waiting e-mail at the next dispatch instead of after its backoff."""
    message = await in_session(
        state,
        lambda s: notification_service.retry_now(
            session=s, message_id=message_id, actor=principal.actor(Source.PAGE)
        ),
    )
    notice = (
        f"E-mail {message_id} goes out with the next dispatch."
        if message is not None
        else f"E-mail {message_id} is no longer waiting."
    )
    return await failing(request, state, principal, notice=notice)


async def _retry(state: AppState, number: str, activity_id: str, actor: Actor) -> str:
    """Ask Temporal to run the activity again; the notice says how it went (and the audit log,
    once Temporal took it: the change is Temporal's, so the entry follows it)."""
    try:
        client = await state.temporal()
        await report_temporal.retry_activity(
            client,
            namespace=state.settings.temporal_namespace,
            number=number,
            activity_id=activity_id,
        )
    except Exception as exc:  # noqa: BLE001 - Temporal refused; say why
        return f"Temporal refused the retry: {getattr(exc, 'message', None) or exc}"
    report_temporal.failing_cache(state, state.settings.monitor_cache_seconds).clear()
    await in_session(
        state,
        lambda s: record(
            s,
            actor=actor,
            action="order.retry_activity",
            entity="order",
            entity_id=number,
            after={"activity_id": activity_id},
        ),
    )
    return f"Activity {activity_id} of {number} is running again."


def _durations_chart(durations: list[report_service.StepDuration]) -> dict:
    longest = max((d.p95 or 0 for d in durations), default=0)
    unit, size = ("h", 3600) if longest >= 7200 else ("min", 60) if longest >= 120 else ("s", 1)

    def scaled(value: float | None) -> float | None:
        return round(value / size, 2) if value is not None else None

    return {
        "type": "bar",
        "labels": [d.step.replace("_", " ") for d in durations],
        "datasets": [
            {"label": f"median ({unit})", "data": [scaled(d.median) for d in durations]},
            {"label": f"p95 ({unit})", "data": [scaled(d.p95) for d in durations]},
        ],
    }


def bounded_days(state: AppState, days: int) -> int:
    """`days`, or Invalid (422) beyond the longest period a report covers (a setting)."""
    return report_service.bounded_days(state.settings.report_max_days, days)


def _report_data(session: Session, days: int) -> dict:
    since = report_service.utcnow() - timedelta(days=days)
    return {
        "per_day": report_service.orders_per_day(session=session, since=since),
        "durations": report_service.step_durations(session=session, since=since),
        "sla": report_service.sla_breaches(session=session, since=since),
        "work": report_service.work_per_employee(session=session, since=since),
    }


@router.get("/reports", include_in_schema=False)
def reports(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.REPORTS_VIEW)],
    days: Annotated[int, Query(ge=1)] = 30,
) -> Response:
    """Orders and revenue per day, cycle time per step, SLA breaches, work per employee."""
    days = bounded_days(state, days)
    data = _report_data(session, days)
    if not principal.can(Permission.PRODUCTIVITY_VIEW):  # work per person: supervisors only
        data["work"] = []
    currency = state.settings.default_currency
    per_day = data["per_day"]
    charts = {
        "orders": {
            "type": "bar",
            "labels": [d.day.isoformat() for d in per_day],
            "datasets": [
                {"label": "orders", "data": [d.orders for d in per_day], "yAxisID": "y"},
                {
                    "label": f"bookings ({currency})",
                    "data": [float(d.bookings.get(currency, 0)) for d in per_day],
                    "type": "line",
                    "yAxisID": "y1",
                },
                {
                    "label": f"revenue ({currency})",
                    "data": [float(d.revenue.get(currency, 0)) for d in per_day],
                    "type": "line",
                    "yAxisID": "y1",
                },
            ],
        },
        "durations": _durations_chart(data["durations"]),
        "work": {
            "type": "bar",
            "labels": [w.who for w in data["work"]],
            "datasets": [
                {"label": "completed", "data": [w.completed for w in data["work"]]},
                {"label": "open now", "data": [w.open_now for w in data["work"]]},
            ],
        },
    }
    context = data | {
        "page": "reports",
        "days": days,
        "may_see_work": principal.can(Permission.PRODUCTIVITY_VIEW),
        "charts": charts,
        "totals": {
            "orders": sum(d.orders for d in per_day),
            "cancelled": sum(d.cancelled for d in per_day),
            "quotes": sum(d.quotes for d in per_day),
            "bookings": sum(d.bookings.get(currency, Decimal("0")) for d in per_day),
            "revenue": sum(d.revenue.get(currency, Decimal("0")) for d in per_day),
            "currency": currency,
            "breached": sum(b.breached for b in data["sla"]),
        },
    }
    return render(request, "reports.html", context, principal=principal)


def _sales_chart(rows: list[kpi_service.SalesRow], currency: str) -> dict:
    """The ten largest groups in the default currency, as a bar chart."""
    shown = [r for r in rows if r.currency == currency][:10]
    return {
        "type": "bar",
        "labels": [r.label for r in shown],
        "datasets": [{"label": f"sales ({currency})", "data": [float(r.total) for r in shown]}],
    }


@router.get("/reports/kpis", include_in_schema=False)
def kpis_report(
    request: Request,
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.REPORTS_VIEW)],
    days: Annotated[int, Query(ge=1)] = 30,
) -> Response:
    """Sales by rep, customer, product and channel; cycle time, on-time delivery, accuracy."""
    days = bounded_days(state, days)
    since = report_service.utcnow() - timedelta(days=days)
    found = kpi_service.kpis(session=session, since=since, days=days)
    currency = state.settings.default_currency
    context = {
        "page": "reports",
        "days": days,
        "kpis": found,
        "currency": currency,
        "charts": {by: _sales_chart(rows, currency) for by, rows in found.sales.items()},
    }
    return render(request, "reports_kpis.html", context, principal=principal)


SALES_CSV = {f"sales_by_{by}": by for by in kpi_service.SALES_BY}


def _sales_csv(session: Session, days: int, kind: str) -> tuple[list[str], list[list[object]]]:
    by = SALES_CSV[kind]
    since = report_service.utcnow() - timedelta(days=days)
    found = kpi_service.sales(session=session, since=since, by=by)
    header = [by, "name", "currency", "orders", "total"] + (["qty"] if by == "product" else [])
    rows: list[list[object]] = [
        [r.key, r.label, r.currency, r.orders, r.total] + ([r.qty] if by == "product" else [])
        for r in found
    ]
    return header, rows


@router.get("/reports/{kind}.csv", include_in_schema=False)
def report_csv(
    kind: Literal[
        "orders",
        "durations",
        "sla",
        "work",
        "sales_by_rep",
        "sales_by_customer",
        "sales_by_product",
        "sales_by_channel",
    ],
    session: ReadSessionDep,
    state: StateDep,
    principal: Annotated[Principal, require_page(Permission.REPORTS_VIEW)],
    days: Annotated[int, Query(ge=1)] = 30,
) -> Response:
    """One report as CSV (opens in any spreadsheet); work per employee needs its own permission."""
    days = bounded_days(state, days)
    if kind == "work" and not principal.can(Permission.PRODUCTIVITY_VIEW):
        raise Forbidden(permission_refusal(Permission.PRODUCTIVITY_VIEW))
    rows: list[list[object]]
    if kind in SALES_CSV:
        header, rows = _sales_csv(session, days, kind)
        return _csv(header, rows, kind, days)
    data = _report_data(session, days)
    if kind == "orders":
        header = ["day", "orders", "cancelled", "open_quotes", "currency", "bookings", "revenue"]
        rows = []
        for d in data["per_day"]:
            currencies = sorted(set(d.bookings) | set(d.revenue)) or [""]
            rows += [
                [d.day.isoformat(), d.orders, d.cancelled, d.quotes, code]
                + [d.bookings.get(code, Decimal("0.00")), d.revenue.get(code, Decimal("0.00"))]
                for code in currencies
            ]
    elif kind == "durations":
        header = ["step", "completed", "median_seconds", "p95_seconds"]
        rows = [[s.step, s.count, s.median or "", s.p95 or ""] for s in data["durations"]]
    elif kind == "sla":
        header = ["step", "role", "tasks_with_sla", "breached"]
        rows = [[b.step, b.role, b.with_sla, b.breached] for b in data["sla"]]
    else:
        header = ["employee", "email", "completed", "late", "open_now"]
        rows = [[w.who, w.email, w.completed, w.late, w.open_now] for w in data["work"]]
    return _csv(header, rows, kind, days)


def _csv(header: list[str], rows: list[list[object]], kind: str, days: int) -> Response:
    return Response(
        spreadsheet.to_csv(header, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="conveyor-{kind}-{days}d.csv"'},
    )
