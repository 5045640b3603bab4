"""Fill an empty database with believable demo data (products, customers, employees, deals)."""

import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.audit.service import Actor
from conveyor.core.db import session_scope
from conveyor.core.models import row_id, utcnow
from conveyor.core.settings import settings
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer, CustomerCreate
from conveyor.demo.pricing import seed_pricing
from conveyor.employee import service as employee_service
from conveyor.employee.models import Employee, EmployeeCreate
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductCreate
from conveyor.opportunity import service as opportunity_service
from conveyor.opportunity.models import OpportunityCreate, Stage
from conveyor.terms import service as terms_service
from conveyor.terms.models import PaymentTermsCreate

SEEDER = Actor.cli("demo seed")
PRODUCTS = [
    ("LAPTOP-14", 'Laptop 14" business', "1199.00", 40, "A-01", ["electronics", "computers"]),
    ("LAPTOP-16", 'Laptop 16" workstation', "1899.00", 12, "A-02", ["electronics", "computers"]),
    ("MON-27", 'Monitor 27" 4K', "349.90", 60, "B-01", ["electronics", "displays"]),
    ("PRN-LASER", "Laser printer", "229.00", 25, "B-07", ["electronics", "printers"]),
    ("DOCK-USB-C", "USB-C docking station", "179.00", 80, "C-03", ["accessories"]),
    ("KB-MECH", "Mechanical keyboard", "89.50", 150, "C-04", ["accessories"]),
    ("MOUSE-WL", "Wireless mouse", "29.99", 300, "C-05", ["accessories"]),
    ("CHAIR-ERGO", "Ergonomic office chair", "459.00", 8, "D-01", ["furniture", "bulky"]),
    ("DESK-SIT", "Sit-stand desk", "699.00", 0, "D-02", ["furniture", "bulky"]),
    ("CABLE-HDMI", "HDMI cable 2 m", "9.90", 500, "C-09", ["accessories"]),
]
CUSTOMERS = [
    ("Northwind Traders", "orders@northwind.example", "wholesale", "US", "50000.00"),
    ("Contoso Ltd", "purchasing@contoso.example", "b2b", "US", "20000.00"),
    ("Fabrikam GmbH", "einkauf@fabrikam.example", "b2b", "DE", "15000.00"),
    ("Jane Doe", "jane.doe@example.com", "retail", "US", "0.00"),
    ("Ravi Patel", "ravi.patel@example.com", "retail", "GB", "0.00"),
]
# Payment terms templates: (code, name, net days, discount %, discount days, deposit %).
PAYMENT_TERMS = [
    ("NET30", "30 days net", 30, None, None, None),
    ("NET14-2", "14 days net, 2% within 7 days", 14, "2.00", 7, None),
    ("DEP25", "30 days net, 25% deposit", 30, None, None, "25.00"),
    ("PREPAY", "Payment in advance", 0, None, None, None),
]
# Each demo customer's terms (by CUSTOMERS order).
CUSTOMER_TERMS = ("NET30", "NET14-2", "DEP25", "NET30", "PREPAY")
# How long each demo customer has been one (their "customer since"), in days.
CUSTOMER_SINCE_DAYS = (730, 400, 180, 90, 45)
# Customer-center sign-ins (e-mail + password) for demo customers.
CUSTOMER_LOGINS = {
    "orders@northwind.example": "northwind-demo",
    "jane.doe@example.com": "jane-demo-pass",
}
EMPLOYEES = [
    ("Olivia Ops", "olivia@conveyor.example", ["admin", "supervisor"], 5),
    ("Alice Desk", "alice@conveyor.example", ["order_desk"], 2),
    ("Bob Desk", "bob@conveyor.example", ["order_desk"], 2),
    ("Carol Desk", "carol@conveyor.example", ["order_desk"], 2),
    ("Walter Warehouse", "walter@conveyor.example", ["warehouse"], 1),
    ("Ann Accountant", "ann@conveyor.example", ["accountant"], 3),
    ("Sam Sales", "sam@conveyor.example", ["sales"], 2),
    ("Chris Credit", "chris@conveyor.example", ["credit"], 3),
]


# Deals in the pipeline, Sam's: (customer by CUSTOMERS order, title, value, stage, closes in days).
OPPORTUNITIES = [
    (0, "Warehouse scanners for the new site", "18500.00", Stage.NEGOTIATION, 10),
    (1, "Keyboards for the support floor", "4200.00", Stage.PROPOSAL, 21),
    (2, "Docking stations, second wave", "7900.00", Stage.QUALIFICATION, 45),
    (0, "Monitors for the design team", "12000.00", Stage.PROSPECTING, 60),
]


def employee_password(name: str) -> str:
    """A demo employee's sign-in password: their first name, lowercase, then "-demo"."""
    return f"{name.split()[0].lower()}-demo"


def is_seeded(engine: Engine) -> bool:
    """True when the database already holds employees (we never seed twice)."""
    with session_scope(engine) as session:
        return session.exec(select(Employee.id)).first() is not None


def seed(engine: Engine, accounts_file: Path) -> list[dict]:
    """Insert the demo data and write the demo accounts (with their passwords and tokens) to
    `accounts_file`."""
    accounts = []
    with session_scope(engine) as session:
        for sku, name, price, on_hand, location, tags in PRODUCTS:
            inventory_service.create(
                session=session,
                product_in=ProductCreate(
                    sku=sku,
                    name=name,
                    price=Decimal(price),
                    on_hand=on_hand,
                    location=location,
                    tags=tags,
                ),
                default_warehouse=settings.default_warehouse,
                actor=SEEDER,
            )
        seed_pricing(session)
        for code, title, net, percent, days, deposit in PAYMENT_TERMS:
            terms_service.create(
                session=session,
                terms_in=PaymentTermsCreate(
                    code=code,
                    name=title,
                    net_days=net,
                    discount_percent=Decimal(percent) if percent else None,
                    discount_days=days,
                    deposit_percent=Decimal(deposit) if deposit else None,
                ),
                actor=SEEDER,
            )
        customers: list[Customer] = []
        for (name, email, group, country, limit), since, terms in zip(
            CUSTOMERS, CUSTOMER_SINCE_DAYS, CUSTOMER_TERMS, strict=True
        ):
            customer = customer_service.create(
                session=session,
                customer_in=CustomerCreate(
                    name=name,
                    email=email,
                    group=group,
                    country=country,
                    credit_limit=Decimal(limit),
                    payment_terms_code=terms,
                ),
                actor=SEEDER,
            )
            # Customers of some standing: their account is older than last week's orders.
            customer.created_at = utcnow() - timedelta(days=since)
            session.add(customer)
            customers.append(customer)
            if email in CUSTOMER_LOGINS:
                customer_service.set_password(
                    session=session,
                    customer=customer,
                    password=CUSTOMER_LOGINS[email],
                    actor=SEEDER,
                )
        for name, email, roles, clearance in EMPLOYEES:
            employee, token = employee_service.create(
                session=session,
                employee_in=EmployeeCreate(
                    name=name, email=email, roles=roles, clearance=clearance
                ),
            )
            password = employee_password(name)
            employee_service.set_password(
                session=session, employee=employee, password=password, actor=SEEDER
            )
            if "order_desk" in roles or "warehouse" in roles:
                employee_service.clock_in(session=session, employee=employee)
            accounts.append(
                {
                    "id": employee.id,
                    "name": name,
                    "email": email,
                    "roles": roles,
                    "password": password,
                    "token": token,
                }
            )
        seed_opportunities(session, customers, next(a for a in accounts if "sales" in a["roles"]))
    accounts_file.parent.mkdir(parents=True, exist_ok=True)
    accounts_file.write_text(json.dumps(accounts, indent=2))
    accounts_file.chmod(0o600)
    return accounts


def seed_opportunities(session: Session, customers: list[Customer], owner: dict) -> None:
    """The demo pipeline: a few open deals of the sales rep's, at different stages."""
    for index, title, value, stage, closes_in in OPPORTUNITIES:
        opportunity_service.create(
            session=session,
            opportunity_in=OpportunityCreate(
                customer_id=row_id(customers[index]),
                title=title,
                value=Decimal(value),
                stage=stage,
                expected_close=(utcnow() + timedelta(days=closes_in)).date(),
                owner_id=owner["id"],
            ),
            default_currency=settings.default_currency,
            actor=SEEDER,
        )


def load_accounts(accounts_file: Path) -> list[dict]:
    """The demo accounts written at seeding time (empty when there are none)."""
    if not accounts_file.exists():
        return []
    return json.loads(accounts_file.read_text())
