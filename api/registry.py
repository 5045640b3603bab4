"""Mounts every area's router under its prefix and tag."""

from fastapi import APIRouter

from conveyor.accounting.views import router as accounting_router
from conveyor.audit.views import router as audit_router
from conveyor.customer.views import router as customer_router
from conveyor.employee.views import router as employee_router
from conveyor.inventory.views import (
    inventory_router,
    pick_lists_router,
    products_router,
    warehouses_router,
)
from conveyor.invoice.views import receivables_router
from conveyor.invoice.views import router as invoice_router
from conveyor.notification.views import router as outbox_router
from conveyor.opportunity.views import router as opportunity_router
from conveyor.order.views import router as order_router
from conveyor.outbound.views import router as outbound_router
from conveyor.pos.views import router as pos_router
from conveyor.pricing.views import agreements_router, shipping_rates_router, tax_rates_router
from conveyor.purchasing.views import router as purchasing_router
from conveyor.purchasing.views import supplier_invoices_router, suppliers_router
from conveyor.report.views import router as report_router
from conveyor.returns.views import order_returns_router
from conveyor.returns.views import router as returns_router
from conveyor.shipping.views import router as shipments_router
from conveyor.task.views import router as task_router
from conveyor.terms.views import router as terms_router
from conveyor.webhook.views import deliveries_router
from routing_rules.views import router as rules_router

api_router = APIRouter(prefix="/api")
api_router.include_router(employee_router, prefix="/employees", tags=["employees"])
api_router.include_router(customer_router, prefix="/customers", tags=["customers"])
api_router.include_router(products_router, prefix="/products", tags=["products"])
api_router.include_router(inventory_router, prefix="/inventory", tags=["inventory"])
api_router.include_router(warehouses_router, prefix="/warehouses", tags=["inventory"])
api_router.include_router(pick_lists_router, prefix="/pick-lists", tags=["inventory"])
api_router.include_router(order_router, prefix="/orders", tags=["orders"])
api_router.include_router(order_returns_router, prefix="/orders", tags=["returns"])
api_router.include_router(shipments_router, prefix="/orders", tags=["shipments"])
api_router.include_router(opportunity_router, prefix="/opportunities", tags=["opportunities"])
api_router.include_router(task_router, prefix="/tasks", tags=["tasks"])
api_router.include_router(rules_router, prefix="/routing-rules", tags=["routing rules"])
api_router.include_router(outbox_router, prefix="/outbox", tags=["notifications"])
api_router.include_router(invoice_router, prefix="/invoices", tags=["invoices"])
api_router.include_router(receivables_router, prefix="/receivables", tags=["invoices"])
api_router.include_router(terms_router, prefix="/payment-terms", tags=["customers"])
api_router.include_router(agreements_router, prefix="/price-agreements", tags=["pricing"])
api_router.include_router(tax_rates_router, prefix="/tax-rates", tags=["pricing"])
api_router.include_router(shipping_rates_router, prefix="/shipping-rates", tags=["pricing"])
api_router.include_router(deliveries_router, prefix="/webhook-deliveries", tags=["webhooks"])
api_router.include_router(
    outbound_router, prefix="/webhook-subscriptions", tags=["outbound webhooks"]
)
api_router.include_router(accounting_router, prefix="/accounting", tags=["accounting"])
api_router.include_router(purchasing_router, prefix="/purchase-orders", tags=["purchasing"])
api_router.include_router(suppliers_router, prefix="/suppliers", tags=["purchasing"])
api_router.include_router(
    supplier_invoices_router, prefix="/supplier-invoices", tags=["purchasing"]
)
api_router.include_router(returns_router, prefix="/returns", tags=["returns"])
api_router.include_router(audit_router, prefix="/audit", tags=["audit"])
api_router.include_router(report_router, prefix="/reports", tags=["reports"])
api_router.include_router(pos_router, prefix="/pos", tags=["point of sale"])
