"""Who may see and do what: the one table of permissions, granted to roles from a clearance.

Every JSON route and page declares the permission it needs (`api.deps.require`, `pages.web
.require_page`); the README prints this table (tests/auth check that copy). Record rules
narrow a permission to some rows (a sales rep below `ALL_ACCOUNTS_CLEARANCE` sees the customers
they own; a customer sees only their own); the services apply them. Plain data, no I/O.
"""

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The roles an employee may hold; `admin` holds every permission."""

    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    ORDER_DESK = "order_desk"
    SALES = "sales"
    CREDIT = "credit"
    WAREHOUSE = "warehouse"
    PURCHASING = "purchasing"
    ACCOUNTANT = "accountant"


class Permission(StrEnum):
    """What a route or page needs; the value is what the README and the refusals show."""

    ORDERS_VIEW = "orders.view"
    ORDERS_PLACE = "orders.place"
    ORDERS_TERMS = "orders.terms"  # channel, charges, tax-inclusive prices, external references
    ORDERS_MODIFY = "orders.modify"  # cancel, amend, annotate
    PAYMENTS_RECORD = "payments.record"
    POS_SELL = "pos.sell"  # counter sales: the POS page, the own cash drawer, receipts
    POS_REFUND = "pos.refund"  # counter returns, refunded from the own cash drawer
    POS_DRAWERS = "pos.drawers"  # everybody's cash drawer sessions and their differences
    INVOICES_VIEW = "invoices.view"
    OPPORTUNITIES_VIEW = "opportunities.view"
    OPPORTUNITIES_MANAGE = "opportunities.manage"  # create, edit, move, mark lost (cancels quotes)
    CUSTOMERS_VIEW = "customers.view"
    CUSTOMERS_EDIT = "customers.edit"
    CUSTOMERS_MESSAGE = "customers.message"
    CUSTOMER_ACCOUNTS = "customers.accounts"  # customer-center sign-in links
    PRICES_VIEW = "prices.view"
    PRICES_MANAGE = "prices.manage"  # price agreements, tax and shipping rates
    PRODUCTS_MANAGE = "products.manage"
    STOCK_VIEW = "stock.view"
    STOCK_RECEIVE = "stock.receive"  # receive goods, move them between bins and warehouses
    STOCK_ADJUST = "stock.adjust"  # correct balances (count, damage, loss) with a reason
    PICKING_VIEW = "picking.view"
    SHIPMENTS_RECORD = "shipments.record"  # carrier, tracking, delivered, failed
    RETURNS_VIEW = "returns.view"
    RETURNS_AUTHORISE = "returns.authorise"
    RETURNS_RECEIVE = "returns.receive"
    REFUNDS_APPROVE = "refunds.approve"
    PURCHASING_VIEW = "purchasing.view"
    PURCHASING_CONFIRM = "purchasing.confirm"
    PURCHASING_MANAGE = "purchasing.manage"  # suppliers, their prices, stock purchase orders
    SUPPLIER_INVOICES_VIEW = "supplier_invoices.view"
    SUPPLIER_INVOICES_ENTER = "supplier_invoices.enter"  # matched on entry: approved or held
    SUPPLIER_INVOICES_APPROVE = "supplier_invoices.approve"  # decide a held one: approve, reject
    SUPPLIER_PAYMENTS_RECORD = "supplier_payments.record"
    TASKS_WORK = "tasks.work"
    TASKS_REASSIGN = "tasks.reassign"
    REPORTS_VIEW = "reports.view"
    PRODUCTIVITY_VIEW = "reports.productivity"
    JOURNAL_VIEW = "journal.view"
    JOURNAL_EXPORT = "journal.export"  # record export runs to accounting packages
    MONITOR_VIEW = "monitor.view"
    MONITOR_RETRY = "monitor.retry"
    RULES_VIEW = "rules.view"
    EMPLOYEES_MANAGE = "employees.manage"
    WEBHOOKS_MANAGE = "webhooks.manage"
    MAIL_VIEW = "mail.view"
    AUDIT_VIEW = "audit.view"


@dataclass(frozen=True)
class Grant:
    """The roles that hold a permission (empty: admins only) and the least clearance it needs."""

    roles: frozenset[Role]
    clearance: int = 0
    note: str = ""


def _grant(*roles: Role, clearance: int = 0, note: str = "") -> Grant:
    return Grant(frozenset(roles), clearance, note)


R = Role
P = Permission
# Every employee role (staff work; their own tasks and pools).
STAFF = tuple(role for role in Role if role is not Role.ADMIN)
# A sales rep sees the customers (and their orders, invoices, returns) they own below this.
ALL_ACCOUNTS_CLEARANCE = 3

GRANTS: dict[Permission, Grant] = {
    P.ORDERS_VIEW: _grant(
        R.ORDER_DESK,
        R.SALES,
        R.CREDIT,
        R.WAREHOUSE,
        R.ACCOUNTANT,
        R.SUPERVISOR,
        note=f"sales reps below clearance {ALL_ACCOUNTS_CLEARANCE}: their own accounts",
    ),
    P.ORDERS_PLACE: _grant(R.ORDER_DESK, R.SALES),
    P.ORDERS_TERMS: _grant(R.ORDER_DESK, R.SALES, R.SUPERVISOR, clearance=3),
    P.ORDERS_MODIFY: _grant(R.ORDER_DESK, R.SALES, R.SUPERVISOR, clearance=2),
    P.PAYMENTS_RECORD: _grant(R.ACCOUNTANT),
    P.POS_SELL: _grant(R.ORDER_DESK, R.SALES, note="their own cash drawer"),
    P.POS_REFUND: _grant(R.ORDER_DESK, R.SUPERVISOR, clearance=2, note="their own cash drawer"),
    P.POS_DRAWERS: _grant(R.SUPERVISOR, R.ACCOUNTANT),
    P.INVOICES_VIEW: _grant(R.ACCOUNTANT, R.ORDER_DESK, R.CREDIT, R.SUPERVISOR),
    P.OPPORTUNITIES_VIEW: _grant(
        R.SALES,
        R.ORDER_DESK,
        R.SUPERVISOR,
        note=f"sales reps below clearance {ALL_ACCOUNTS_CLEARANCE}: their own accounts",
    ),
    P.OPPORTUNITIES_MANAGE: _grant(
        R.SALES,
        R.SUPERVISOR,
        clearance=2,
        note=f"sales reps below clearance {ALL_ACCOUNTS_CLEARANCE}: their own accounts",
    ),
    P.CUSTOMERS_VIEW: _grant(
        R.ORDER_DESK,
        R.SALES,
        R.CREDIT,
        R.ACCOUNTANT,
        R.SUPERVISOR,
        note=f"sales reps below clearance {ALL_ACCOUNTS_CLEARANCE}: the customers they own",
    ),
    P.CUSTOMERS_EDIT: _grant(R.ORDER_DESK, R.SALES, R.CREDIT, R.SUPERVISOR, clearance=2),
    P.CUSTOMERS_MESSAGE: _grant(R.ORDER_DESK, R.SALES, R.SUPERVISOR, clearance=1),
    P.CUSTOMER_ACCOUNTS: _grant(R.ORDER_DESK, R.SUPERVISOR, clearance=2),
    P.PRICES_VIEW: _grant(R.SALES, R.ORDER_DESK, R.ACCOUNTANT, R.SUPERVISOR),
    P.PRICES_MANAGE: _grant(),
    P.PRODUCTS_MANAGE: _grant(),
    P.STOCK_VIEW: _grant(*STAFF),
    P.STOCK_RECEIVE: _grant(R.WAREHOUSE, R.PURCHASING),
    P.STOCK_ADJUST: _grant(R.WAREHOUSE, R.SUPERVISOR, clearance=2),
    P.PICKING_VIEW: _grant(R.WAREHOUSE, R.SUPERVISOR),
    P.SHIPMENTS_RECORD: _grant(R.WAREHOUSE, R.ORDER_DESK, R.SUPERVISOR),
    P.RETURNS_VIEW: _grant(R.ORDER_DESK, R.WAREHOUSE, R.ACCOUNTANT, R.SUPERVISOR),
    P.RETURNS_AUTHORISE: _grant(R.ORDER_DESK, R.SALES),
    P.RETURNS_RECEIVE: _grant(R.WAREHOUSE),
    P.REFUNDS_APPROVE: _grant(R.ACCOUNTANT, clearance=3),
    P.PURCHASING_VIEW: _grant(R.PURCHASING, R.WAREHOUSE, R.ACCOUNTANT, R.SUPERVISOR),
    P.PURCHASING_CONFIRM: _grant(R.PURCHASING, R.WAREHOUSE),
    P.PURCHASING_MANAGE: _grant(R.PURCHASING, R.SUPERVISOR, clearance=2),
    P.SUPPLIER_INVOICES_VIEW: _grant(R.ACCOUNTANT, R.PURCHASING, R.SUPERVISOR),
    P.SUPPLIER_INVOICES_ENTER: _grant(R.ACCOUNTANT, R.PURCHASING),
    P.SUPPLIER_INVOICES_APPROVE: _grant(
        R.ACCOUNTANT, R.SUPERVISOR, note="the held invoice's task goes to the accountant pool"
    ),
    P.SUPPLIER_PAYMENTS_RECORD: _grant(R.ACCOUNTANT),
    P.TASKS_WORK: _grant(
        *STAFF, note="their own tasks, their roles' pools, their own shifts and attendance"
    ),
    P.TASKS_REASSIGN: _grant(R.SUPERVISOR),
    P.REPORTS_VIEW: _grant(R.SUPERVISOR, R.ACCOUNTANT, clearance=3),
    P.PRODUCTIVITY_VIEW: _grant(R.SUPERVISOR, clearance=3),
    P.JOURNAL_VIEW: _grant(R.ACCOUNTANT),
    P.JOURNAL_EXPORT: _grant(R.ACCOUNTANT),
    P.MONITOR_VIEW: _grant(R.SUPERVISOR),
    P.MONITOR_RETRY: _grant(R.SUPERVISOR, clearance=3),
    P.RULES_VIEW: _grant(R.SUPERVISOR),
    P.EMPLOYEES_MANAGE: _grant(),
    P.WEBHOOKS_MANAGE: _grant(),
    P.MAIL_VIEW: _grant(),
    P.AUDIT_VIEW: _grant(R.SUPERVISOR, clearance=4),
}


def allows(permission: Permission, roles: list[str], clearance: int) -> bool:
    """True when someone holding `roles` at `clearance` has `permission` (admins have all)."""
    if Role.ADMIN in roles:
        return True
    grant = GRANTS[permission]
    return clearance >= grant.clearance and any(role in grant.roles for role in roles)


def refusal(permission: Permission) -> str:
    """Why a caller without `permission` is refused, naming what would let them."""
    grant = GRANTS[permission]
    if not grant.roles:
        return f"{permission} is for admins only"
    roles = " or ".join(sorted(grant.roles))
    level = f" at clearance {grant.clearance}" if grant.clearance else ""
    return f"{permission} needs the {roles} role{level}"


def table_markdown() -> str:
    """The permission table as Markdown (the README's copy is checked against it)."""
    lines = ["| Permission | Roles | Clearance | Record rule |", "|---|---|---|---|"]
    for permission, grant in GRANTS.items():
        roles = ", ".join(sorted(grant.roles)) or "admin only"
        lines.append(f"| `{permission}` | {roles} | {grant.clearance} | {grant.note} |")
    return "\n".join(lines)
