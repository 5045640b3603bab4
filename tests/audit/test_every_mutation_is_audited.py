"""Every mutating route writes an audit entry: a walk over the OpenAPI document.

Each POST/PUT/PATCH/DELETE under /api/ and /webhooks/ needs an example in EXAMPLES below (path,
body, caller, and the audit action it must write). The test prepares a dataset, calls every
example in order and checks that the log got the expected entry. A route without an example
fails the test, so a new route cannot slip in without an audit entry (or a reason in
NOT_MUTATING).
"""

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import col, func, select

from conveyor.audit.models import AuditEntry
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.shipping.views import SIGNATURE_HEADER, sign_carrier
from tests.conftest import RULES
from tests.utils.api import (
    auth,
    create_customer,
    create_employee,
    create_product,
    place_order,
    wait_for_open_task,
    wait_for_order,
)
from tests.webhook.conftest import (
    SHOPIFY_SECRET,
    STRIPE_SECRET,
    WOO_SECRET,
    post_shopify,
    post_stripe,
    post_woocommerce,
    sample,
    shopify_order,
    woocommerce_order,
)

MUTATING = ("post", "put", "patch", "delete")
# POST routes that change nothing, and why (so they need no audit entry).
NOT_MUTATING = {
    (
        "POST",
        "/api/routing-rules/preview",
    ): "computes which rule an order would get; stores nothing",
}
SHOPIFY_SKUS = {"SKU2006-001": "89.99", "SKU2006-020": "159.99", "SKU2006-035": "119.99"}
AUDIT_WAIT_SECONDS = 30.0
CARRIER_SECRET = "audit-carrier-secret-0123456789"


@pytest.fixture
def rules_dir() -> Path:
    """Phone orders wait at a quote, web orders at an order-desk pool task."""
    return RULES / "audit_walk"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings with the webhook secrets (the store routes are walked too)."""
    return settings.model_copy(
        update={
            "shopify_secret": SecretStr(SHOPIFY_SECRET),
            "woocommerce_secret": SecretStr(WOO_SECRET),
            "stripe_secret": SecretStr(STRIPE_SECRET),
            "carrier_webhook_secret": SecretStr(CARRIER_SECRET),
        }
    )


@dataclass
class Call:
    """One request of an example: where, what, as whom."""

    path: str
    json: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] | None = None
    content: bytes | None = None  # a signed webhook body, sent as is


@dataclass
class Data:
    """The prepared dataset, and what earlier examples left for later ones."""

    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.values[key] = value


Send = Callable[[httpx.AsyncClient, Data], Awaitable[httpx.Response]]


@dataclass
class Example:
    """An example request for one operation, and the audit action it must write.

    `build` makes a plain request with the operation's method (the admin token unless the call
    says otherwise); `send` one that needs more (a signed webhook body, an id looked up first).
    """

    action: str
    build: Callable[[Data], Call] | None = None
    after: Callable[[Data, httpx.Response], None] | None = None
    send: Send | None = None

    async def run(self, api: httpx.AsyncClient, method: str, data: Data) -> httpx.Response:
        """Make the example's request."""
        if self.send is not None:
            return await self.send(api, data)
        assert self.build is not None, "an example builds or sends its request"
        c = self.build(data)
        return await api.request(
            method, c.path, json=c.json, params=c.params, headers=c.headers, content=c.content
        )


def keep(key: str, field_name: str) -> Callable[[Data, httpx.Response], None]:
    """Keep a field of the answer for later examples."""

    def store(data: Data, response: httpx.Response) -> None:
        data[key] = response.json()[field_name]

    return store


def _stripe_payment(number: str) -> bytes:
    event = json.loads(sample("stripe_payment_intent_succeeded.json"))
    event["id"] = f"evt_{uuid.uuid4().hex[:16]}"
    event["data"]["object"].update(
        id=f"pi_{uuid.uuid4().hex[:16]}", amount=100, amount_received=100
    )
    event["data"]["object"]["metadata"] = {"order_number": number}
    return json.dumps(event).encode()


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _unique() -> str:
    return uuid.uuid4().hex[:8]


# (method, path template) -> example, in the order they are called.
EXAMPLES: dict[tuple[str, str], Example] = {
    # First, so that the orders, invoices and payments of later examples are delivered to it.
    ("POST", "/api/webhook-subscriptions"): Example(
        "outbound.subscription_create",
        lambda d: Call(
            "/api/webhook-subscriptions",
            {"url": "http://127.0.0.1:9/hook", "events": ["order.created", "payment.received"]},
        ),
        keep("subscription", "id"),
    ),
    ("POST", "/api/employees"): Example(
        "employee.create",
        lambda d: Call(
            "/api/employees",
            {"name": "New", "email": f"n-{_unique()}@example.com", "roles": ["sales"]},
        ),
    ),
    ("POST", "/api/employees/{employee_id}/clock-in"): Example(
        "employee.clock_in",
        lambda d: Call(f"/api/employees/{d['clerk']['id']}/clock-in"),
    ),
    ("POST", "/api/employees/{employee_id}/clock-out"): Example(
        "employee.clock_out",
        lambda d: Call(f"/api/employees/{d['clerk']['id']}/clock-out"),
    ),
    ("POST", "/api/employees/{employee_id}/tokens"): Example(
        "employee.token_issue",
        lambda d: Call(f"/api/employees/{d['target']['id']}/tokens", {"name": "w"}),
        keep("token_id", "id"),
    ),
    ("POST", "/api/employees/{employee_id}/tokens/{token_id}/rotate"): Example(
        "employee.token_revoke",
        lambda d: Call(f"/api/employees/{d['target']['id']}/tokens/{d['token_id']}/rotate"),
        keep("token_id", "id"),
    ),
    ("DELETE", "/api/employees/{employee_id}/tokens/{token_id}"): Example(
        "employee.token_revoke",
        lambda d: Call(f"/api/employees/{d['target']['id']}/tokens/{d['token_id']}"),
    ),
    ("POST", "/api/employees/{employee_id}/deactivate"): Example(
        "employee.deactivate",
        lambda d: Call(f"/api/employees/{d['target']['id']}/deactivate"),
    ),
    ("POST", "/api/employees/{employee_id}/activate"): Example(
        "employee.reactivate",
        lambda d: Call(f"/api/employees/{d['target']['id']}/activate"),
    ),
    ("POST", "/api/customers"): Example(
        "customer.create",
        lambda d: Call("/api/customers", {"name": "C", "email": f"c-{_unique()}@example.com"}),
    ),
    ("POST", "/api/opportunities"): Example(
        "opportunity.create",
        lambda d: Call(
            "/api/opportunities",
            {"customer_id": d["customer"]["id"], "title": "Walk", "value": "50.00"},
        ),
        keep("opportunity", "number"),
    ),
    ("PATCH", "/api/opportunities/{number}"): Example(
        "opportunity.update",
        lambda d: Call(f"/api/opportunities/{d['opportunity']}", {"value": "60.00"}),
    ),
    ("POST", "/api/opportunities/{number}/stage"): Example(
        "opportunity.stage",
        lambda d: Call(f"/api/opportunities/{d['opportunity']}/stage", {"stage": "proposal"}),
    ),
    ("POST", "/api/opportunities/{number}/lost"): Example(
        "opportunity.lost",
        lambda d: Call(f"/api/opportunities/{d['opportunity']}/lost", {"reason": "price"}),
    ),
    ("POST", "/api/products"): Example(
        "product.create",
        lambda d: Call("/api/products", {"name": "Walk", "sku": f"W-{_unique()}", "price": "3.00"}),
    ),
    ("POST", "/api/inventory/{sku}/receive"): Example(
        "stock.receive",
        lambda d: Call(
            f"/api/inventory/{d['product']['sku']}/receive", {"qty": 4, "location": "Z-9"}
        ),
    ),
    ("POST", "/api/warehouses"): Example(
        "warehouse.create",
        lambda d: Call("/api/warehouses", {"code": f"W{_unique()}", "name": "W"}),
        keep("warehouse", "code"),
    ),
    ("POST", "/api/inventory/{sku}/move"): Example(
        "stock.move",
        lambda d: Call(
            f"/api/inventory/{d['product']['sku']}/move",
            {"from_warehouse": "MAIN", "to_warehouse": d["warehouse"], "qty": 2},
        ),
    ),
    ("POST", "/api/inventory/{sku}/adjust"): Example(
        "stock.adjust",
        lambda d: Call(
            f"/api/inventory/{d['product']['sku']}/adjust",
            {"warehouse": "MAIN", "qty": -1, "reason": "damage"},
        ),
    ),
    ("POST", "/api/inventory/{sku}/reorder-level"): Example(
        "stock.reorder_level",
        lambda d: Call(
            f"/api/inventory/{d['product']['sku']}/reorder-level",
            {"warehouse": "MAIN", "reorder_level": 3},
        ),
    ),
    ("POST", "/api/suppliers"): Example(
        "supplier.create",
        lambda d: Call(
            "/api/suppliers",
            {"code": f"S{_unique()}", "name": "Supplier", "email": "buy@example.com"},
        ),
        keep("supplier", "code"),
    ),
    ("PATCH", "/api/suppliers/{code}"): Example(
        "supplier.update",
        lambda d: Call(f"/api/suppliers/{d['supplier']}", {"lead_time_days": 3}),
    ),
    ("POST", "/api/suppliers/{code}/prices"): Example(
        "supplier.price_add",
        lambda d: Call(
            f"/api/suppliers/{d['supplier']}/prices",
            {"sku": d["product"]["sku"], "unit_price": "2.50"},
        ),
        keep("supplier_price", "id"),
    ),
    ("POST", "/api/purchase-orders"): Example(
        "purchase_order.create",
        lambda d: Call(
            "/api/purchase-orders",
            {"supplier": d["supplier"], "lines": [{"sku": d["product"]["sku"], "qty": 5}]},
        ),
        keep("stock_purchase", "number"),
    ),
    ("POST", "/api/purchase-orders/{number}/send"): Example(
        "purchase_order.send",
        lambda d: Call(f"/api/purchase-orders/{d['stock_purchase']}/send"),
    ),
    ("POST", "/api/purchase-orders/{number}/receipts"): Example(
        "purchase_order.receive",
        lambda d: Call(
            f"/api/purchase-orders/{d['stock_purchase']}/receipts",
            {"lines": [{"sku": d["product"]["sku"], "qty": 2}]},
        ),
    ),
    ("POST", "/api/supplier-invoices"): Example(
        "supplier_invoice.enter",
        lambda d: Call(
            "/api/supplier-invoices",
            _supplier_invoice(d, qty=2),  # the 2 received at the PO's price: matched
        ),
        keep("supplier_invoice", "number"),
    ),
    ("POST", "/api/supplier-invoices/{number}/payment"): Example(
        "supplier_invoice.pay",
        lambda d: Call(f"/api/supplier-invoices/{d['supplier_invoice']}/payment", {}),
    ),
    ("POST", "/api/supplier-invoices/{number}/approve"): Example(
        "supplier_invoice.approve",
        send=lambda api, d: _decide_held_invoice(api, d, "approve"),
    ),
    ("POST", "/api/supplier-invoices/{number}/reject"): Example(
        "supplier_invoice.reject",
        send=lambda api, d: _decide_held_invoice(api, d, "reject"),
    ),
    ("DELETE", "/api/suppliers/{code}/prices/{price_id}"): Example(
        "supplier.price_delete",
        lambda d: Call(f"/api/suppliers/{d['supplier']}/prices/{d['supplier_price']}"),
    ),
    ("POST", "/api/suppliers/{code}/group-discounts"): Example(
        "supplier.group_discount_add",
        lambda d: Call(
            f"/api/suppliers/{d['supplier']}/group-discounts",
            {"item_group": "audit-group", "discount_percent": "5"},
        ),
        keep("supplier_group_discount", "id"),
    ),
    ("DELETE", "/api/suppliers/{code}/group-discounts/{discount_id}"): Example(
        "supplier.group_discount_delete",
        lambda d: Call(
            f"/api/suppliers/{d['supplier']}/group-discounts/{d['supplier_group_discount']}"
        ),
    ),
    ("PATCH", "/api/warehouses/{code}"): Example(
        "warehouse.update",
        lambda d: Call(f"/api/warehouses/{d['warehouse']}", {"name": "W2"}),
    ),
    ("POST", "/api/warehouses/{code}/retire"): Example(
        "warehouse.retire",
        lambda d: Call(f"/api/warehouses/{d['empty_warehouse']}/retire"),
    ),
    ("POST", "/api/payment-terms"): Example(
        "payment_terms.create",
        lambda d: Call(
            "/api/payment-terms",
            {
                "code": f"T{_unique()}",
                "net_days": 14,
                "discount_percent": "2",
                "discount_days": 7,
            },
        ),
        keep("terms", "code"),
    ),
    ("PATCH", "/api/payment-terms/{code}"): Example(
        "payment_terms.update",
        lambda d: Call(f"/api/payment-terms/{d['terms']}", {"net_days": 21}),
    ),
    ("POST", "/api/payment-terms/{code}/retire"): Example(
        "payment_terms.retire",
        lambda d: Call(f"/api/payment-terms/{d['terms']}/retire"),
    ),
    ("POST", "/api/price-agreements"): Example(
        "price_agreement.create",
        lambda d: Call(
            "/api/price-agreements",
            {"name": "walk", "sku": d["product"]["sku"], "discount_percent": "5"},
        ),
        keep("agreement", "id"),
    ),
    ("PATCH", "/api/price-agreements/{agreement_id}"): Example(
        "price_agreement.update",
        lambda d: Call(f"/api/price-agreements/{d['agreement']}", {"discount_percent": "6"}),
    ),
    ("POST", "/api/price-agreements/{agreement_id}/end"): Example(
        "price_agreement.end",
        lambda d: Call(f"/api/price-agreements/{d['agreement']}/end", {}),
    ),
    ("POST", "/api/tax-rates"): Example(
        "tax_rate.create",
        lambda d: Call("/api/tax-rates", {"tax_class": "walk", "country": "FR", "rate": "20"}),
        keep("tax_rate", "id"),
    ),
    ("PATCH", "/api/tax-rates/{rate_id}"): Example(
        "tax_rate.update",
        lambda d: Call(f"/api/tax-rates/{d['tax_rate']}", {"rate": "21"}),
    ),
    ("POST", "/api/tax-rates/{rate_id}/retire"): Example(
        "tax_rate.retire",
        lambda d: Call(f"/api/tax-rates/{d['tax_rate']}/retire"),
    ),
    ("POST", "/api/shipping-rates"): Example(
        "shipping_rate.create",
        lambda d: Call("/api/shipping-rates", {"country": "FR", "amount": "5.00"}),
        keep("shipping_rate", "id"),
    ),
    ("PATCH", "/api/shipping-rates/{rate_id}"): Example(
        "shipping_rate.update",
        lambda d: Call(f"/api/shipping-rates/{d['shipping_rate']}", {"amount": "6"}),
    ),
    ("POST", "/api/shipping-rates/{rate_id}/retire"): Example(
        "shipping_rate.retire",
        lambda d: Call(f"/api/shipping-rates/{d['shipping_rate']}/retire"),
    ),
    ("POST", "/api/orders"): Example(
        "order.place",
        lambda d: Call(
            "/api/orders",
            {
                "customer_id": d["customer"]["id"],
                "lines": [{"sku": d["product"]["sku"], "qty": 1}],
                "channel": "phone",
            },
        ),
    ),
    ("POST", "/api/orders/{number}/cancel"): Example(
        "order.cancel",
        lambda d: Call(f"/api/orders/{d['to_cancel']}/cancel", params={"reason": "walk"}),
    ),
    ("POST", "/api/orders/{number}/service-delivered"): Example(
        "order.service_delivered",
        lambda d: Call(f"/api/orders/{d['serviced']}/service-delivered", {"note": "walk"}),
    ),
    ("POST", "/api/orders/{number}/amend"): Example(
        "order.amend",
        lambda d: Call(
            f"/api/orders/{d['to_amend']}/amend",
            {"lines": [{"sku": d["product"]["sku"], "qty": 3}]},
        ),
    ),
    ("POST", "/api/orders/{number}/payments"): Example(
        "order.payment",
        lambda d: Call(
            f"/api/orders/{d['to_amend']}/payments",
            {"amount": "1.00", "method": "bank_transfer"},
        ),
    ),
    ("POST", "/api/tasks/{task_id}/claim"): Example(
        "task.claim",
        lambda d: Call(f"/api/tasks/{d['task']['id']}/claim", headers=auth(d["desk"])),
    ),
    ("POST", "/api/tasks/{task_id}/unclaim"): Example(
        "task.unclaim",
        lambda d: Call(f"/api/tasks/{d['task']['id']}/unclaim", headers=auth(d["desk"])),
    ),
    ("POST", "/api/tasks/{task_id}/reassign"): Example(
        "task.reassign",
        lambda d: Call(f"/api/tasks/{d['task']['id']}/reassign", {"employee_id": d["desk"]["id"]}),
    ),
    ("POST", "/api/tasks/{task_id}/complete"): Example(
        "task.complete",
        lambda d: Call(f"/api/tasks/{d['task']['id']}/complete", {"outcome": "done"}),
    ),
    ("POST", "/api/orders/{number}/returns"): Example(
        "return.authorise",
        lambda d: Call(
            f"/api/orders/{d['completed']}/returns",
            {"lines": [{"sku": d["product"]["sku"], "qty": 1}]},
        ),
        keep("rma", "number"),
    ),
    ("POST", "/api/returns/{number}/receive"): Example(
        "return.receive",
        lambda d: Call(f"/api/returns/{d['rma']}/receive", {"lines": []}),
    ),
    ("POST", "/api/purchase-orders/{number}/shipped"): Example(
        "purchase_order.shipped",
        lambda d: Call(f"/api/purchase-orders/{d['purchase']}/shipped", {}),
    ),
    # The supplier's shipment (shipment 1 of that order): tracked, lost, then delivered after all.
    ("PATCH", "/api/orders/{number}/shipments/{shipment}"): Example(
        "shipment.updated",
        lambda d: Call(f"/api/orders/{d['supplied']}/shipments/1", {"tracking": "AUDIT-1"}),
    ),
    ("POST", "/api/orders/{number}/shipments/{shipment}/failed"): Example(
        "shipment.failed",
        lambda d: Call(f"/api/orders/{d['supplied']}/shipments/1/failed", {"reason": "lost"}),
    ),
    ("POST", "/api/orders/{number}/shipments/{shipment}/delivered"): Example(
        "shipment.delivered",
        lambda d: Call(f"/api/orders/{d['supplied']}/shipments/1/delivered", {}),
    ),
    ("POST", "/webhooks/carrier"): Example(
        "shipment.delivered",
        send=lambda api, d: _carrier_delivered(api, d["carried_tracking"]),
    ),
    ("POST", "/webhooks/shopify"): Example(
        "order.place",
        send=lambda api, d: post_shopify(api, shopify_order(str(int(time.time() * 1000)))),
    ),
    ("POST", "/webhooks/woocommerce"): Example(
        "order.place", send=lambda api, d: post_woocommerce(api, woocommerce_order())
    ),
    ("POST", "/webhooks/stripe"): Example(
        "order.payment", send=lambda api, d: post_stripe(api, _stripe_payment(d["to_amend"]))
    ),
    ("POST", "/api/webhook-deliveries/{delivery_id}/replay"): Example(
        "webhook.replay",
        lambda d: Call(f"/api/webhook-deliveries/{d['delivery']}/replay"),
    ),
    ("PATCH", "/api/customers/{customer_id}"): Example(
        "customer.update",
        lambda d: Call(f"/api/customers/{d['customer']['id']}", {"group": "b2b"}),
    ),
    ("POST", "/api/customers/{customer_id}/addresses"): Example(
        "customer.address_add",
        lambda d: Call(
            f"/api/customers/{d['customer']['id']}/addresses",
            {"kind": "shipping", "name": "Dock", "line1": "1 Quay", "city": "Hull"}
            | {"country": "GB"},
        ),
        keep("address", "id"),
    ),
    ("PATCH", "/api/customers/{customer_id}/addresses/{address_id}"): Example(
        "customer.address_update",
        lambda d: Call(
            f"/api/customers/{d['customer']['id']}/addresses/{d['address']}", {"city": "York"}
        ),
    ),
    ("POST", "/api/customers/{customer_id}/addresses/{address_id}/retire"): Example(
        "customer.address_retire",
        lambda d: Call(f"/api/customers/{d['customer']['id']}/addresses/{d['address']}/retire"),
    ),
    ("POST", "/api/customers/{customer_id}/contacts"): Example(
        "customer.contact_add",
        lambda d: Call(f"/api/customers/{d['customer']['id']}/contacts", {"name": "Ann"}),
        keep("contact", "id"),
    ),
    ("PATCH", "/api/customers/{customer_id}/contacts/{contact_id}"): Example(
        "customer.contact_update",
        lambda d: Call(
            f"/api/customers/{d['customer']['id']}/contacts/{d['contact']}", {"role": "buyer"}
        ),
    ),
    ("POST", "/api/customers/{customer_id}/contacts/{contact_id}/retire"): Example(
        "customer.contact_retire",
        lambda d: Call(f"/api/customers/{d['customer']['id']}/contacts/{d['contact']}/retire"),
    ),
    ("POST", "/api/customers/{customer_id}/retire"): Example(
        "customer.retire",
        lambda d: Call(f"/api/customers/{d['leaving']['id']}/retire"),
    ),
    ("PATCH", "/api/products/{sku}"): Example(
        "product.update",
        lambda d: Call(f"/api/products/{d['spare']['sku']}", {"name": "Spare"}),
    ),
    ("POST", "/api/products/{sku}/retire"): Example(
        "product.retire",
        lambda d: Call(f"/api/products/{d['spare']['sku']}/retire"),
    ),
    ("PATCH", "/api/employees/{employee_id}"): Example(
        "employee.update",
        lambda d: Call(f"/api/employees/{d['desk']['id']}", {"clearance": 3}),
    ),
    ("POST", "/api/employees/{employee_id}/password-link"): Example(
        "employee.password_link_send",
        lambda d: Call(f"/api/employees/{d['desk']['id']}/password-link"),
    ),
    ("POST", "/api/orders/{number}/revise"): Example(
        "order.revise",
        lambda d: Call(
            f"/api/orders/{d['to_revise']}/revise",
            {"lines": [{"sku": d["product"]["sku"], "qty": 3}]},
        ),
    ),
    ("PATCH", "/api/webhook-subscriptions/{subscription_id}"): Example(
        "outbound.subscription_update",
        lambda d: Call(f"/api/webhook-subscriptions/{d['subscription']}", {"description": "x"}),
    ),
    ("POST", "/api/webhook-subscriptions/{subscription_id}/rotate-secret"): Example(
        "outbound.secret_rotate",
        lambda d: Call(f"/api/webhook-subscriptions/{d['subscription']}/rotate-secret"),
    ),
    ("POST", "/api/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/replay"): (
        Example("outbound.replay", send=lambda api, d: _replay_outbound(api, d["subscription"]))
    ),
    # The counter: a cashier opens a drawer, sells for cash, takes one back, closes the drawer.
    ("POST", "/api/pos/drawer/open"): Example(
        "pos.drawer_open",
        lambda d: Call(
            "/api/pos/drawer/open", {"opening_float": "50.00"}, headers=auth(d["cashier"])
        ),
    ),
    ("POST", "/api/pos/sales"): Example(
        "pos.sale",
        lambda d: Call(
            "/api/pos/sales",
            {"lines": [{"sku": d["product"]["sku"], "qty": 2}], "tender": "cash"},
            headers=auth(d["cashier"]),
        ),
        keep("pos_sale", "order_number"),
    ),
    ("POST", "/api/pos/sales/{number}/return"): Example(
        "pos.refund", send=lambda api, d: _counter_return(api, d)
    ),
    ("POST", "/api/pos/drawer/close"): Example(
        "pos.drawer_close",
        lambda d: Call("/api/pos/drawer/close", {"counted": "50.00"}, headers=auth(d["cashier"])),
    ),
    # After the payments above: the run takes them (and the invoices) for the emas package.
    ("POST", "/api/accounting/exports"): Example(
        "accounting.export",
        lambda d: Call(
            "/api/accounting/exports",
            {"package": "emas", "from": _today(), "to": _today()},
        ),
    ),
    ("DELETE", "/api/webhook-subscriptions/{subscription_id}"): Example(
        "outbound.subscription_deactivate",
        lambda d: Call(f"/api/webhook-subscriptions/{d['subscription']}"),
    ),
}


async def _counter_return(api: httpx.AsyncClient, data: Data) -> httpx.Response:
    """Once the counter sale has completed (at once, by itself): one unit back, cash out."""
    await wait_for_order(api, data["pos_sale"], lambda o: o["status"] == "completed")
    return await api.post(
        f"/api/pos/sales/{data['pos_sale']}/return",
        json={"lines": [{"sku": data["product"]["sku"], "qty": 1}]},
        headers=auth(data["cashier"]),
    )


async def _carrier_delivered(api: httpx.AsyncClient, tracking: str) -> httpx.Response:
    body = json.dumps({"tracking": tracking, "event": "delivered"}).encode()
    signature = sign_carrier(body, CARRIER_SECRET, int(time.time()))
    return await api.post(
        "/webhooks/carrier",
        content=body,
        headers={SIGNATURE_HEADER: signature, "Content-Type": "application/json"},
    )


def _supplier_invoice(data: Data, qty: int) -> dict[str, Any]:
    """A supplier invoice for the stock purchase order's line, under a new supplier number."""
    return {
        "purchase_order": data["stock_purchase"],
        "supplier_number": f"INV-{_unique()}",
        "invoice_date": "2026-11-20",
        "lines": [{"sku": data["product"]["sku"], "qty": qty, "unit_price": "2.50"}],
    }


async def _decide_held_invoice(api: httpx.AsyncClient, data: Data, verb: str) -> httpx.Response:
    """Enter an invoice billing more than was received (held), then approve or reject it."""
    held = await api.post("/api/supplier-invoices", json=_supplier_invoice(data, qty=5))
    assert held.status_code == 201 and held.json()["status"] == "held", held.text
    return await api.post(
        f"/api/supplier-invoices/{held.json()['number']}/{verb}", json={"reason": "checked"}
    )


async def _replay_outbound(api: httpx.AsyncClient, subscription: int) -> httpx.Response:
    """Replay the newest delivery to the subscription (an order of an earlier example's)."""
    log = (await api.get(f"/api/webhook-subscriptions/{subscription}/deliveries")).json()
    delivery = log["data"][0]["id"]
    return await api.post(f"/api/webhook-subscriptions/{subscription}/deliveries/{delivery}/replay")


def mutating_operations(app_openapi: dict) -> set[tuple[str, str]]:
    """Every (METHOD, path) of the OpenAPI document that may change something."""
    return {
        (method.upper(), path)
        for path, operations in app_openapi["paths"].items()
        if path.startswith(("/api/", "/webhooks/"))
        for method in operations
        if method in MUTATING
    }


async def _prepare(api: httpx.AsyncClient) -> Data:
    """The dataset the examples act on, made through the API."""
    data = Data()
    data["clerk"] = await create_employee(api, ["order_desk"])
    data["desk"] = await create_employee(api, ["order_desk"])
    data["cashier"] = await create_employee(api, ["order_desk"])
    data["target"] = await create_employee(api, ["warehouse"])
    data["product"] = await create_product(api, on_hand=100)
    for sku, price in SHOPIFY_SKUS.items():
        await create_product(api, sku=sku, price=price, on_hand=50)
    drop = await create_product(
        api, on_hand=0, drop_ship=True, supplier_email=f"s-{_unique()}@example.com"
    )
    data["customer"] = customer = await create_customer(api)
    line = [(data["product"]["sku"], 2)]
    data["to_cancel"] = (await place_order(api, customer["id"], line, channel="phone"))["number"]
    data["to_amend"] = (await place_order(api, customer["id"], line, channel="phone"))["number"]
    data["to_revise"] = (await place_order(api, customer["id"], line, channel="phone"))["number"]
    data["leaving"] = await create_customer(api)
    data["spare"] = await create_product(api, on_hand=0)
    empty = await api.post("/api/warehouses", json={"code": f"E{_unique()}", "name": "Empty"})
    data["empty_warehouse"] = empty.json()["code"]  # the other one receives stock below
    web = await place_order(api, customer["id"], line, channel="web")
    completed = await place_order(api, customer["id"], line, prepaid=True)
    supplied = await place_order(api, customer["id"], [(drop["sku"], 1)])
    service = await create_product(api, on_hand=0, kind="service")
    serviced = await place_order(api, customer["id"], [(service["sku"], 1)])
    carried = await place_order(api, customer["id"], [(drop["sku"], 1)])
    data["task"] = await wait_for_open_task(api, web["number"], "allocation")
    for number in (data["to_cancel"], data["to_amend"], data["to_revise"]):
        await wait_for_open_task(api, number, "quote")
    done = await wait_for_order(api, completed["number"], lambda o: o["status"] == "completed")
    data["completed"] = done["number"]
    data["purchase"] = await _purchase_order(api, supplied["number"])
    data["supplied"] = supplied["number"]
    await wait_for_order(api, serviced["number"], lambda o: o["current_step"] == "service")
    data["serviced"] = serviced["number"]
    data["carried_tracking"] = tracking = f"T-{_unique()}"
    carried_po = await _purchase_order(api, carried["number"])
    shipped = await api.post(
        f"/api/purchase-orders/{carried_po}/shipped", json={"tracking": tracking}
    )
    assert shipped.status_code == 200, shipped.text
    stored = await post_shopify(api, shopify_order("4711"))
    assert stored.status_code == 200, stored.text
    deliveries = (await api.get("/api/webhook-deliveries")).json()["data"]
    data["delivery"] = deliveries[0]["id"]
    return data


async def _purchase_order(api: httpx.AsyncClient, number: str) -> str:
    for _ in range(300):
        found = (await api.get("/api/purchase-orders", params={"order": number})).json()
        if found:
            return found[0]["number"]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no purchase order for {number}")


def _last_id(engine: Engine) -> int:
    with session_scope(engine) as session:
        return session.exec(select(func.coalesce(func.max(AuditEntry.id), 0))).one()


def _actions_since(engine: Engine, last_id: int) -> list[str]:
    with session_scope(engine) as session:
        rows = session.exec(select(AuditEntry).where(col(AuditEntry.id) > last_id))
        return [row.action for row in rows]


async def _wait_for_action(engine: Engine, last_id: int, action: str) -> list[str]:
    """The actions written since `last_id`, once `action` is among them (or the time is up).

    A change a workflow makes for the caller (cancel, amend, complete) lands a moment after
    the answer, in the activity's transaction.
    """
    deadline = time.monotonic() + AUDIT_WAIT_SECONDS
    while True:
        actions = await asyncio.to_thread(_actions_since, engine, last_id)
        if action in actions or time.monotonic() > deadline:
            return actions
        await asyncio.sleep(0.1)


def test_every_mutating_operation_has_an_example(api_openapi: dict) -> None:
    operations = mutating_operations(api_openapi)
    missing = sorted(operations - set(EXAMPLES) - set(NOT_MUTATING))
    assert not missing, f"mutating routes without an audit example: {missing}"
    stale = sorted((set(EXAMPLES) | set(NOT_MUTATING)) - operations)
    assert not stale, f"examples for routes that no longer exist: {stale}"


@pytest.fixture
def api_openapi(settings: Settings) -> dict:
    """The app's OpenAPI document."""
    from api.main import create_app

    return create_app(settings).openapi()


async def test_every_mutating_route_writes_an_audit_entry(
    api: httpx.AsyncClient, worker, engine: Engine, api_openapi: dict
) -> None:
    operations = mutating_operations(api_openapi)
    assert not operations - set(EXAMPLES) - set(NOT_MUTATING)  # the test above says which
    data = await _prepare(api)
    unaudited = []
    for (method, path), example in EXAMPLES.items():
        last = await asyncio.to_thread(_last_id, engine)
        response = await example.run(api, method, data)
        assert response.status_code < 300, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        if example.after:
            example.after(data, response)
        actions = await _wait_for_action(engine, last, example.action)
        if example.action not in actions:
            unaudited.append(f"{method} {path}: wrote {actions or 'nothing'}, not {example.action}")
    assert not unaudited, "\n".join(unaudited)
