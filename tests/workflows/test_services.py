"""Service lines end to end through the API: never stocked, picked or packed, invoiced once the
service is confirmed delivered (by staff, or by the service step's task)."""

from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from conveyor.audit.models import AuditEntry
from conveyor.core.db import session_scope
from conveyor.inventory.models import PickListLine, StockMovement
from conveyor.order.models import SalesOrder
from conveyor.shipping.models import Shipment
from tests.conftest import ADMIN_TOKEN, RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.utils.pages import staff_client

GOODS_STEPS = ("stock_check", "allocation", "picking", "packing", "delivery")


async def _service(api: httpx.AsyncClient, price: str = "80.00") -> dict:
    return await create_product(api, on_hand=0, price=price, kind="service", name="Installation")


def _movements(engine: Engine, sku: str) -> list[StockMovement]:
    with session_scope(engine) as session:
        return list(session.exec(select(StockMovement).where(StockMovement.sku == sku)).all())


def _goods_rows(engine: Engine, number: str) -> tuple[int, int]:
    """The order's pick-list lines and shipments."""
    with session_scope(engine) as session:
        order = session.exec(select(SalesOrder).where(SalesOrder.number == number)).one()
        picks = session.exec(select(PickListLine).where(PickListLine.order_id == order.id)).all()
        shipments = session.exec(select(Shipment).where(Shipment.order_id == order.id)).all()
        return len(picks), len(shipments)


async def _invoices(api: httpx.AsyncClient, number: str) -> list[dict]:
    response = await api.get("/api/invoices", params={"order": number})
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_service_only_order_completes_once_the_service_is_confirmed(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    service = await _service(api)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(service["sku"], 2)], prepaid=True)
    number = order["number"]

    waiting = await wait_for_order(api, number, lambda o: o["current_step"] == "service")
    assert waiting["status"] == "open"  # never backordered, though nothing is on hand
    skipped = {e["step"] for e in waiting["events"] if e["kind"] == "step_skipped"}
    assert set(GOODS_STEPS) - {"delivery"} <= skipped
    assert await _invoices(api, number) == []  # nothing invoiced before the service is done

    confirmed = await api.post(
        f"/api/orders/{number}/service-delivered", json={"note": "installed on site"}
    )
    assert confirmed.status_code == 200, confirmed.text
    done = await wait_for_order(api, number, lambda o: o["status"] == "completed")

    invoices = await _invoices(api, number)
    assert len(invoices) == 1
    assert invoices[0]["total"] == done["totals"]["total"] == "160.00"
    assert [(ln["sku"], ln["qty"]) for ln in invoices[0]["lines"]] == [(service["sku"], 2)]
    skipped = {e["step"] for e in done["events"] if e["kind"] == "step_skipped"}
    assert set(GOODS_STEPS) <= skipped
    assert any(e["kind"] == "service_delivered" for e in done["events"])
    assert _movements(engine, service["sku"]) == []
    assert _goods_rows(engine, number) == (0, 0)
    with session_scope(engine) as session:
        audited = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "order.service_delivered")
            .where(AuditEntry.entity_id == number)
        ).all()
    assert len(audited) == 1

    again = await api.post(f"/api/orders/{number}/service-delivered", json={})
    assert again.status_code == 200  # confirmed once; a repeat changes nothing
    assert len(await _invoices(api, number)) == 1


async def test_a_mixed_order_allocates_only_the_goods_and_invoices_everything(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    goods = await create_product(api, on_hand=5, price="10.00")
    service = await _service(api, price="25.00")
    customer = await create_customer(api)
    lines = [(goods["sku"], 2), (service["sku"], 1)]
    order = await place_order(api, customer["id"], lines, prepaid=True)
    number = order["number"]

    waiting = await wait_for_order(api, number, lambda o: o["current_step"] == "service")
    stock = (await api.get(f"/api/inventory/{goods['sku']}")).json()
    assert (stock["on_hand"], stock["committed"]) == (3, 0)  # allocated, picked, packed
    assert _goods_rows(engine, number) == (1, 1)  # one pick line (the goods), one shipment
    assert not any(e["kind"] == "step_skipped" for e in waiting["events"])
    assert await _invoices(api, number) == []  # the invoice waits for the service

    cancel = await api.post(f"/api/orders/{number}/cancel", params={"reason": "late"})
    assert cancel.status_code == 409  # the goods shipped already

    confirmed = await api.post(f"/api/orders/{number}/service-delivered", json={})
    assert confirmed.status_code == 200, confirmed.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")

    invoices = await _invoices(api, number)
    assert len(invoices) == 1
    assert invoices[0]["total"] == "45.00"
    billed = sorted((ln["sku"], ln["qty"]) for ln in invoices[0]["lines"])
    assert billed == sorted(lines)
    moved = {(m.kind, m.qty) for m in _movements(engine, goods["sku"])}
    assert ("receive", 5) in moved and len(moved) > 1  # committed and packed from stock
    assert _movements(engine, service["sku"]) == []


async def test_a_partial_mixed_order_bills_the_service_with_its_last_shipment(
    api: httpx.AsyncClient, worker, engine: Engine
) -> None:
    goods = await create_product(api, on_hand=1, price="10.00")
    service = await _service(api, price="25.00")
    customer = await create_customer(api)
    lines = [(goods["sku"], 3), (service["sku"], 1)]
    order = await place_order(api, customer["id"], lines, prepaid=True, allow_partial=True)
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["status"] == "backordered")
    assert len(await _invoices(api, number)) == 1  # the first shipment: one unit of goods
    await api.post(f"/api/inventory/{goods['sku']}/receive", json={"qty": 2})
    await wait_for_order(api, number, lambda o: o["current_step"] == "service")
    assert len(await _invoices(api, number)) == 1
    confirmed = await api.post(f"/api/orders/{number}/service-delivered", json={})
    assert confirmed.status_code == 200, confirmed.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")
    invoices = await _invoices(api, number)
    assert [inv["total"] for inv in invoices] == ["10.00", "45.00"]
    assert (service["sku"], 1) in [(ln["sku"], ln["qty"]) for ln in invoices[1]["lines"]]


@pytest.mark.parametrize("rules_dir", [RULES / "services"])
async def test_the_service_step_as_a_task_confirms_the_service(
    api: httpx.AsyncClient, worker, engine: Engine, rules_dir: Path
) -> None:
    service = await _service(api)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(service["sku"], 1)])
    number = order["number"]
    task = await wait_for_open_task(api, number, "service")
    by_staff = await api.post(f"/api/orders/{number}/service-delivered", json={})
    assert by_staff.status_code == 409  # completing the task is the confirmation
    assert str(task["id"]) in by_staff.json()["detail"]

    desk = await create_employee(api, ["order_desk"])
    done = await api.post(f"/api/tasks/{task['id']}/complete", json={}, headers=auth(desk))
    assert done.status_code == 200, done.text
    collecting = await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    delivered = [e for e in collecting["events"] if e["kind"] == "service_delivered"]
    assert len(delivered) == 1 and delivered[0]["actor"] == desk["email"]
    assert len(await _invoices(api, number)) == 1
    paid = await api.post(f"/api/orders/{number}/payments", json={"amount": "80.00"})
    assert paid.status_code == 201, paid.text
    await wait_for_order(api, number, lambda o: o["status"] == "completed")


async def test_a_service_order_waiting_for_its_service_can_be_cancelled(
    api: httpx.AsyncClient, worker
) -> None:
    service = await _service(api)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(service["sku"], 1)])
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "service")
    cancel = await api.post(f"/api/orders/{number}/cancel", params={"reason": "not needed"})
    assert cancel.status_code == 200, cancel.text
    assert cancel.json()["status"] == "cancelled"
    assert await _invoices(api, number) == []
    late = await api.post(f"/api/orders/{number}/service-delivered", json={})
    assert late.status_code == 409


async def test_a_goods_order_has_no_service_to_confirm(api: httpx.AsyncClient, worker) -> None:
    goods = await create_product(api, on_hand=1)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(goods["sku"], 1)])
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "collection")
    refused = await api.post(f"/api/orders/{number}/service-delivered", json={})
    assert refused.status_code == 409
    assert "no service lines" in refused.json()["detail"]
    missing = await api.post("/api/orders/SO-NOPE/service-delivered", json={})
    assert missing.status_code == 404


async def test_a_service_product_never_shows_out_of_stock(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    service = await _service(api)
    sku = service["sku"]
    assert service["kind"] == "service"
    level = (await api.get(f"/api/inventory/{sku}")).json()
    assert level["stocked"] is False
    goods = await create_product(api, on_hand=0)
    assert (await api.get(f"/api/inventory/{goods['sku']}")).json()["stocked"] is True
    low = (await api.get("/api/inventory", params={"low": "true", "page_size": 500})).json()
    low_skus = {row["sku"] for row in low["data"]}
    assert goods["sku"] in low_skus and sku not in low_skus
    receipt = await api.post(f"/api/inventory/{sku}/receive", json={"qty": 1})
    assert receipt.status_code == 422
    with_stock = await api.post(
        "/api/products",
        json={"sku": f"{sku}-X", "name": "x", "price": "1.00", "on_hand": 3, "kind": "service"},
    )
    assert with_stock.status_code == 422
    bad_kind = await api.post(
        "/api/products", json={"sku": f"{sku}-Y", "name": "y", "price": "1.00", "kind": "magic"}
    )
    assert bad_kind.status_code == 422
    stocked = await create_product(api, on_hand=2)
    to_service = await api.patch(f"/api/products/{stocked['sku']}", json={"kind": "service"})
    assert to_service.status_code == 422  # it keeps stock
    empty = await create_product(api, on_hand=0)
    changed = await api.patch(f"/api/products/{empty['sku']}", json={"kind": "service"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["kind"] == "service"
    with session_scope(engine) as session:
        entry = session.exec(
            select(AuditEntry)
            .where(AuditEntry.action == "product.update")
            .where(AuditEntry.entity_id == empty["sku"])
            .order_by(col(AuditEntry.id).desc())
        ).first()
    assert entry is not None and entry.after == {"kind": "service"}


async def test_staff_confirm_the_service_on_the_order_page(api: httpx.AsyncClient, worker) -> None:
    service = await _service(api)
    customer = await create_customer(api)
    order = await place_order(api, customer["id"], [(service["sku"], 1)], prepaid=True)
    number = order["number"]
    await wait_for_order(api, number, lambda o: o["current_step"] == "service")
    staff = await staff_client(api, ADMIN_TOKEN)
    page = await staff.get(f"/orders/{number}")
    assert 'data-testid="service-delivered"' in page.text
    confirmed = await staff.post(f"/orders/{number}/service-delivered", {"note": "done"})
    assert confirmed.status_code == 303, confirmed.text
    done = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    assert any("done" in e["message"] for e in done["events"] if e["kind"] == "service_delivered")
    page = await staff.get(f"/orders/{number}")
    assert 'data-testid="service-delivered"' not in page.text
    await staff.aclose()


@pytest.mark.parametrize("rules_dir", [RULES / "picking_task"])
async def test_a_service_confirmed_early_lets_the_order_go_straight_through(
    api: httpx.AsyncClient, worker, rules_dir: Path
) -> None:
    goods = await create_product(api, on_hand=2, price="10.00")
    service = await _service(api, price="25.00")
    customer = await create_customer(api)
    lines = [(goods["sku"], 1), (service["sku"], 1)]
    order = await place_order(api, customer["id"], lines, prepaid=True)
    number = order["number"]
    task = await wait_for_open_task(api, number, "picking")
    early = await api.post(f"/api/orders/{number}/service-delivered", json={"note": "early"})
    assert early.status_code == 200, early.text
    done = await api.post(f"/api/tasks/{task['id']}/complete", json={})
    assert done.status_code == 200, done.text
    final = await wait_for_order(api, number, lambda o: o["status"] == "completed")
    steps = [e["step"] for e in final["events"] if e["kind"] == "step_completed"]
    assert steps.index("packing") < steps.index("service") < steps.index("invoicing")
    assert [inv["total"] for inv in await _invoices(api, number)] == ["35.00"]
