"""Report endpoints: the sales KPIs of a period as JSON (the /reports/kpis page's figures)."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.auth.permissions import Permission
from conveyor.report import kpis as kpi_service
from conveyor.report import service as report_service

router = APIRouter()


class SalesRowPublic(BaseModel):
    key: str
    label: str
    currency: str
    orders: int
    total: Decimal
    qty: int


class CycleTimePublic(BaseModel):
    count: int
    median_seconds: float | None
    p95_seconds: float | None


class SharePublic(BaseModel):
    count: int
    hits: int
    percent: float | None


class TurnoverPublic(BaseModel):
    currency: str
    cogs: Decimal
    opening_stock_value: Decimal
    closing_stock_value: Decimal
    average_stock_value: Decimal
    turns: Decimal | None


class KpisPublic(BaseModel):
    days: int
    since: datetime
    sales_by_rep: list[SalesRowPublic]
    sales_by_customer: list[SalesRowPublic]
    sales_by_product: list[SalesRowPublic]
    sales_by_channel: list[SalesRowPublic]
    cycle_time: CycleTimePublic
    on_time_delivery: SharePublic
    delivered_without_requested_date: int
    order_accuracy: SharePublic
    inventory_turnover: list[TurnoverPublic]


def _share(share: kpi_service.Share) -> SharePublic:
    return SharePublic(count=share.count, hits=share.hits, percent=share.percent)


@router.get("/kpis")
def kpis(
    session: ReadSessionDep,
    state: StateDep,
    _: Annotated[Principal, require(Permission.REPORTS_VIEW)],
    days: Annotated[int, Query(ge=1)] = 30,
) -> KpisPublic:
    """Sales by account rep, customer, product and channel (per currency), order cycle time,
    on-time delivery and order accuracy over the last `days` (at most CONVEYOR_REPORT_MAX_DAYS)."""
    days = report_service.bounded_days(state.settings.report_max_days, days)
    since = report_service.utcnow() - timedelta(days=days)
    found = kpi_service.kpis(session=session, since=since, days=days)
    sales = {
        f"sales_by_{by}": [SalesRowPublic(**vars(row)) for row in rows]
        for by, rows in found.sales.items()
    }
    return KpisPublic(
        days=days,
        since=since,
        **sales,
        cycle_time=CycleTimePublic(
            count=found.cycle_time.count,
            median_seconds=found.cycle_time.median,
            p95_seconds=found.cycle_time.p95,
        ),
        on_time_delivery=_share(found.on_time),
        delivered_without_requested_date=found.delivered_without_date,
        order_accuracy=_share(found.accuracy),
        inventory_turnover=[
            TurnoverPublic(
                currency=t.currency,
                cogs=t.cogs,
                opening_stock_value=t.opening,
                closing_stock_value=t.closing,
                average_stock_value=t.average,
                turns=t.turns,
            )
            for t in found.turnover
        ],
    )
