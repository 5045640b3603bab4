"""The journal's stock postings: receipts at cost and the cost of goods packed, balanced per
document, on mapped accounts, rounded per ledger entry."""

import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.engine import Engine

from conveyor.accounting import service as accounting_service
from conveyor.accounting.mapping import AccountMap
from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductCreate
from conveyor.inventory.service import StockNeed

ACTOR = Actor.cli("test")


def test_receipts_and_packs_post_balanced_stock_documents(engine: Engine) -> None:
    sku = f"J-{uuid.uuid4().hex[:6]}"
    order = f"SO-{uuid.uuid4().hex[:6]}"
    with session_scope(engine) as session:
        inventory_service.create(
            session=session,
            product_in=ProductCreate(sku=sku, name="Costed", price=Decimal("9.00")),
            default_warehouse="MAIN",
            actor=ACTOR,
        )
        for key, qty, cost in (("r1", 3, "1.3333"), ("r2", 3, "1.6667")):
            inventory_service.receive(
                session=session, key=key, sku=sku, qty=qty, unit_cost=Decimal(cost),
                default_warehouse="MAIN", actor=ACTOR,
            )  # fmt: skip
        assert inventory_service.commit(
            session=session, key=f"{order}:c", order_number=order,
            needs=[StockNeed(sku, 5)], default_warehouse="MAIN",
        )  # fmt: skip
        for part, qty in (("p1", 2), ("p2", 3)):  # two shipments on one day
            inventory_service.pack(
                session=session, key=f"{order}:{part}", order_number=order,
                needs=[StockNeed(sku, qty)], default_warehouse="MAIN",
            )  # fmt: skip

    today = datetime.now(UTC).date()
    mapping = AccountMap.model_validate(
        {"accounts": {"inventory": "1410", "cost_of_goods_sold": "5100"}}
    )
    with session_scope(engine) as session:
        postings = accounting_service.journal(
            session=session, start=today - timedelta(days=1), end=today, mapping=mapping
        )
    stock = [p for p in postings if p.document_type in ("receipt", "cogs")]
    sides: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for posting in stock:
        sides[posting.document][0] += posting.debit
        sides[posting.document][1] += posting.credit
    assert all(debit == credit for debit, credit in sides.values()), sides

    receipts = [p for p in stock if p.document_type == "receipt" and p.debit]
    # 3 x 1.3333 = 3.9999 -> 4.00; 3 x 1.6667 = 5.0001 -> 5.00
    assert sorted(p.debit for p in receipts) == [Decimal("4.00"), Decimal("5.00")]
    assert {p.account for p in receipts} == {"1410"}
    assert {p.account for p in stock if p.document_type == "receipt" and p.credit} == {"2150"}

    cogs = [p for p in stock if p.document == f"COGS-{order}"]
    # The average after both receipts is (3.9999 + 5.0001) / 6 = 1.5000; packs 2 and 3 post
    # 3.00 and 4.50, one document for the day.
    assert [(p.account, p.debit, p.credit) for p in cogs] == [
        ("5100", Decimal("7.50"), Decimal("0.00")),
        ("1410", Decimal("0.00"), Decimal("7.50")),
    ]
    assert {p.journal for p in stock} == {"STOCK"} and {p.order for p in cogs} == {order}
    # The whole journal still balances.
    assert sum(p.debit for p in postings) == sum(p.credit for p in postings)
