"""Sales KPIs over a real database (SQLite and PostgreSQL): exact figures from known orders."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine
from sqlmodel import Session

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.customer.models import Customer
from conveyor.employee.models import Employee
from conveyor.inventory.models import Product, StockMovement
from conveyor.order.models import OrderEvent, OrderLine, SalesOrder
from conveyor.report import kpis as kpi_service
from conveyor.returns.models import ReturnAuthorisation
from conveyor.shipping.models import Shipment


@dataclass
class Known:
    now: datetime
    alice_customer: int
    bob_customer: int


def _order(
    session: Session,
    number: str,
    customer: Customer,
    *,
    channel: str,
    total: str,
    placed: datetime,
    status: str = "completed",
    currency: str = "USD",
    completed: datetime | None = None,
    requested: date | None = None,
    lines: tuple[tuple[str, int, str], ...] = (),
) -> SalesOrder:
    order = SalesOrder(
        number=number,
        channel=channel,
        customer_id=customer.id,
        status=status,
        currency=currency,
        total=Decimal(total),
        created_at=placed,
        completed_at=completed,
        requested_delivery_date=requested,
    )
    session.add(order)
    session.flush()
    for sku, qty, line_total in lines:
        session.add(
            OrderLine(
                order_id=order.id,
                sku=sku,
                name=f"Item {sku}",
                qty=qty,
                unit_price=Decimal(line_total) / qty,
                line_total=Decimal(line_total),
            )
        )
    return order


def _shipment(
    session: Session, order: SalesOrder, n: int, status: str, at: datetime | None
) -> None:
    session.add(
        Shipment(
            key=f"{order.number}:pack:s{n}",
            order_id=order.id,
            order_number=order.number,
            number=n,
            status=status,
            delivered_at=at if status == "delivered" else None,
        )
    )


def known_orders(session: Session) -> Known:
    """Six orders in the last 30 days (one cancelled, one a quote), one older.

    KP-1 alice/web 100.00 USD: placed now-10d, delivered now-8d (2 days), requested on time.
    KP-2 alice/phone 50.00 USD: placed now-6d, delivered now-2d (4 days), requested late;
         two shipments.
    KP-3 bob/web 30.00 EUR: placed now-5d, completed now-4d without delivery (1 day); amended.
    KP-4 bob/web 20.00 USD: placed now-3d, delivered now-3d+6h (0.25 days), no requested date;
         returned.
    KP-5 cancelled, KP-6 quote, KP-7 placed 40 days ago: not sales of the last 30 days.
    """
    now = utcnow().replace(microsecond=0)
    rep = Employee(name="Rita Rep", email="rita@example.com", roles=["sales"], token_hash="r" * 64)
    session.add(rep)
    session.flush()
    alice = Customer(name="Alice Ltd", email="alice@example.com", account_rep_id=rep.id)
    bob = Customer(name="Bob GmbH", email="bob@example.com")
    session.add_all([alice, bob])
    session.flush()
    day = timedelta(days=1)
    o1 = _order(
        session,
        "KP-1",
        alice,
        channel="web",
        total="100.00",
        placed=now - 10 * day,
        completed=now - 8 * day,
        requested=(now - 7 * day).date(),
        lines=(("A", 2, "60.00"), ("B", 1, "40.00")),
    )
    _shipment(session, o1, 1, "delivered", now - 8 * day)
    o2 = _order(
        session,
        "KP-2",
        alice,
        channel="phone",
        total="50.00",
        placed=now - 6 * day,
        completed=now - 2 * day,
        requested=(now - 4 * day).date(),
        lines=(("A", 1, "30.00"), ("C", 4, "20.00")),
    )
    _shipment(session, o2, 1, "delivered", now - 5 * day)
    _shipment(session, o2, 2, "delivered", now - 2 * day)
    o3 = _order(
        session,
        "KP-3",
        bob,
        channel="web",
        total="30.00",
        currency="EUR",
        placed=now - 5 * day,
        completed=now - 4 * day,
        lines=(("A", 1, "30.00"),),
    )
    session.add(OrderEvent(key="KP-3:amended", order_id=o3.id, kind="amended"))
    o4 = _order(
        session,
        "KP-4",
        bob,
        channel="web",
        total="20.00",
        placed=now - 3 * day,
        completed=now - 2 * day,
        lines=(("B", 1, "20.00"),),
    )
    _shipment(session, o4, 1, "delivered", now - 3 * day + timedelta(hours=6))
    session.add(
        ReturnAuthorisation(
            number="RMA-1", key="rma-1", order_id=o4.id, order_number="KP-4", currency="USD"
        )
    )
    _order(session, "KP-5", bob, channel="web", total="70.00", placed=now - day, status="cancelled")
    _order(session, "KP-6", bob, channel="web", total="80.00", placed=now - day, status="quote")
    _order(
        session,
        "KP-7",
        alice,
        channel="web",
        total="90.00",
        placed=now - 40 * day,
        completed=now - 39 * day,
        lines=(("A", 9, "90.00"),),
    )
    session.flush()
    assert alice.id and bob.id
    return Known(now, alice.id, bob.id)


def _rows(rows: list[kpi_service.SalesRow]) -> list[tuple]:
    return [(r.key, r.label, r.currency, r.orders, r.total, r.qty) for r in rows]


def test_sales_by_rep_customer_product_and_channel(engine: Engine) -> None:
    with session_scope(engine) as session:
        known = known_orders(session)
        since = known.now - timedelta(days=30)
        by = {
            b: _rows(kpi_service.sales(session=session, since=since, by=b))
            for b in kpi_service.SALES_BY
        }
    usd, eur = "USD", "EUR"
    assert by["rep"] == [
        ("", "no rep", eur, 1, Decimal("30.00"), 0),
        ("rita@example.com", "Rita Rep", usd, 2, Decimal("150.00"), 0),
        ("", "no rep", usd, 1, Decimal("20.00"), 0),
    ]
    assert by["customer"] == [
        (str(known.bob_customer), "Bob GmbH", eur, 1, Decimal("30.00"), 0),
        (str(known.alice_customer), "Alice Ltd", usd, 2, Decimal("150.00"), 0),
        (str(known.bob_customer), "Bob GmbH", usd, 1, Decimal("20.00"), 0),
    ]
    assert by["product"] == [
        ("A", "Item A", eur, 1, Decimal("30.00"), 1),
        ("A", "Item A", usd, 2, Decimal("90.00"), 3),
        ("B", "Item B", usd, 2, Decimal("60.00"), 2),
        ("C", "Item C", usd, 1, Decimal("20.00"), 4),
    ]
    assert by["channel"] == [
        ("web", "web", eur, 1, Decimal("30.00"), 0),
        ("web", "web", usd, 2, Decimal("120.00"), 0),
        ("phone", "phone", usd, 1, Decimal("50.00"), 0),
    ]


def test_cycle_time_on_time_and_accuracy(engine: Engine) -> None:
    with session_scope(engine) as session:
        known = known_orders(session)
        found = kpi_service.kpis(session=session, since=known.now - timedelta(days=30), days=30)
        week = kpi_service.kpis(session=session, since=known.now - timedelta(days=3), days=3)
    # Cycle times (days): KP-4 0.25, KP-3 1, KP-1 2, KP-2 4 (KP-7 completed 39 days ago).
    # Nearest rank of 4: median is rank 2, p95 rank 4.
    assert found.cycle_time == kpi_service.CycleTime(4, 86400.0, 4 * 86400.0)
    # Delivered with a requested date: KP-1 (on time) and KP-2 (late); KP-4 has no date.
    assert (found.on_time.count, found.on_time.hits, found.on_time.percent) == (2, 1, 50.0)
    assert found.delivered_without_date == 1
    # Accurate: KP-1 only (KP-2 late in two shipments, KP-3 amended and never shipped,
    # KP-4 returned).
    assert (found.accuracy.count, found.accuracy.hits, found.accuracy.percent) == (4, 1, 25.0)
    # Completed in the last 3 days: KP-2 and KP-4 (0.25 and 4 days).
    assert week.cycle_time == kpi_service.CycleTime(2, 21600.0, 4 * 86400.0)
    assert (week.accuracy.count, week.accuracy.hits) == (2, 0)


def test_no_orders_no_figures(engine: Engine) -> None:
    with session_scope(engine) as session:
        found = kpi_service.kpis(session=session, since=utcnow() - timedelta(days=7), days=7)
    assert found.cycle_time == kpi_service.CycleTime(0, None, None)
    assert found.on_time.percent is None and found.accuracy.percent is None
    assert all(rows == [] for rows in found.sales.values())


def test_a_customers_purchasing_habits(engine: Engine) -> None:
    with session_scope(engine) as session:
        known = known_orders(session)
        alice = kpi_service.habits(session=session, customer_id=known.alice_customer, now=known.now)
        bob = kpi_service.habits(session=session, customer_id=known.bob_customer, now=known.now)
    # Alice: KP-7 (40 days ago, 90.00), KP-1 (10 days ago, 100.00), KP-2 (6 days ago, 50.00).
    assert alice.orders == 3
    assert [(t.currency, t.orders, t.total, t.average) for t in alice.totals] == [
        ("USD", 3, Decimal("240.00"), Decimal("80.00"))
    ]
    assert alice.first == known.now - timedelta(days=40)
    assert alice.last == known.now - timedelta(days=6)
    assert alice.per_month == 2.25  # 3 orders in 40 days: 40 / 30 months
    assert alice.days_between == 17.0  # 34 days between the first and last, two gaps
    assert [(i.sku, i.name, i.qty, i.orders) for i in alice.top_items] == [
        ("A", "Item A", 12, 3),
        ("C", "Item C", 4, 1),
        ("B", "Item B", 1, 1),
    ]
    # Bob: one EUR and one USD order (the cancelled one and the quote left out), 2 days apart;
    # a customer of less than a month counts one month.
    assert [(t.currency, t.orders, t.total, t.average) for t in bob.totals] == [
        ("EUR", 1, Decimal("30.00"), Decimal("30.00")),
        ("USD", 1, Decimal("20.00"), Decimal("20.00")),
    ]
    assert (bob.orders, bob.per_month, bob.days_between) == (2, 2.0, 2.0)
    assert [i.sku for i in bob.top_items] == ["A", "B"]
    with session_scope(engine) as session:
        nobody = Customer(name="New", email="new@example.com")
        session.add(nobody)
        session.flush()
        assert nobody.id
        empty = kpi_service.habits(session=session, customer_id=nobody.id, now=known.now)
    assert (empty.orders, empty.totals, empty.per_month, empty.days_between) == (0, [], None, None)


def test_inventory_turnover_from_the_stock_ledger(engine: Engine) -> None:
    now = utcnow()
    day = timedelta(days=1)
    with session_scope(engine) as session:
        session.add_all(
            [
                Product(sku="TA", price=Decimal("20"), on_hand=20, average_cost=Decimal("10")),
                Product(sku="TB", price=Decimal("5"), on_hand=4, average_cost=Decimal("2.5")),
                Product(sku="TE", price=Decimal("9"), currency="EUR", on_hand=10, average_cost=3),
            ]
        )
        moves = [
            ("TA", "receive", 10, "10", now - 20 * day),
            ("TA", "pack", 5, "10", now - 8 * day),  # COGS 50.00
            ("TA", "move_out", 2, None, now - 5 * day),  # moves cancel out
            ("TA", "move_in", 2, None, now - 5 * day),
            ("TA", "commit", 3, None, now - 5 * day),  # committed, not on-hand
            ("TA", "receive", 100, "9", now - 60 * day),  # before the period
            ("TB", "pack", 4, "2.5", now - 3 * day),  # COGS 10.00
            ("TB", "adjust_out", 1, None, now - 2 * day),
            ("TB", "scrap", 1, None, now - 2 * day),  # a return scrapped: never in stock
        ]
        for i, (sku, kind, qty, cost, at) in enumerate(moves):
            session.add(
                StockMovement(
                    key=f"turn-{i}",
                    sku=sku,
                    kind=kind,
                    qty=qty,
                    unit_cost=Decimal(cost) if cost else None,
                    at=at,
                )
            )
        session.flush()
        found = kpi_service.inventory_turnover(session=session, since=now - 30 * day)
    # TA: net +5 in the period, so 15 at the start (150.00) and 20 now (200.00); TB: net -5,
    # 9 at the start (22.50) and 4 now (10.00). Average (172.50 + 210.00) / 2 = 191.25.
    assert [(t.currency, t.cogs, t.opening, t.closing, t.average, t.turns) for t in found] == [
        (
            "EUR",
            Decimal("0.00"),
            Decimal("30.00"),
            Decimal("30.00"),
            Decimal("30.00"),
            Decimal("0.00"),
        ),
        (
            "USD",
            Decimal("60.00"),
            Decimal("172.50"),
            Decimal("210.00"),
            Decimal("191.25"),
            Decimal("0.31"),
        ),
    ]
