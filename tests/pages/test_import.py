"""The CSV import page and the stock page: a file with bad lines writes nothing, a good one all."""

import uuid

import httpx
from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from conveyor.customer import service as customer_service
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import ProductKind
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_product
from tests.utils.pages import staff_client


def _upload(kind: str, text: str, action: str) -> dict:
    return {"data": {"kind": kind, "action": action}, "files": {"file": ("f.csv", text.encode())}}


async def test_two_bad_lines_are_reported_and_nothing_is_written(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    tag = uuid.uuid4().hex[:6]
    text = (
        "name,email,credit_limit\n"
        f"Good {tag},good-{tag}@example.com,100.00\n"
        f"Bad number {tag},bad-{tag}@example.com,12.3.4\n"
        f"Twice {tag},good-{tag}@example.com,5\n"
    )
    answer = await admin.post("/imports", **_upload("customers", text, "import"))
    assert answer.status_code == 422, answer.text
    assert 'data-line="3"' in answer.text and 'data-line="4"' in answer.text
    assert 'data-line="2"' not in answer.text and "Nothing was written" in answer.text
    with session_scope(engine) as session:
        assert (
            customer_service.get_by_email(session=session, email=f"good-{tag}@example.com") is None
        )
    good = text.rsplit("\n", 3)[0].replace("12.3.4", "12.30").split("\n")
    good_text = "\n".join(good[:2]) + f"\nOther {tag},other-{tag}@example.com,5\n"
    done = await admin.post("/imports", **_upload("customers", good_text, "import"))
    assert done.status_code == 200 and 'data-testid="import-done"' in done.text, done.text
    with session_scope(engine) as session:
        for who in ("good", "other"):
            assert customer_service.get_by_email(session=session, email=f"{who}-{tag}@example.com")
    await admin.aclose()


async def test_the_stock_page_lists_receives_and_refuses(api: httpx.AsyncClient) -> None:
    product = await create_product(api, on_hand=2)
    admin = await staff_client(api, ADMIN_TOKEN)
    page = await admin.get("/stock", params={"q": product["sku"]})
    assert page.status_code == 200 and f'data-key="{product["sku"]}@MAIN"' in page.text
    received = await admin.post(
        "/stock/receive",
        {"sku": product["sku"], "warehouse": "MAIN", "qty": "5", "reference": "DN-1"},
    )
    assert received.status_code == 303, received.text
    bad = await admin.post(
        "/stock/adjust",
        {"sku": product["sku"], "warehouse": "MAIN", "qty": "-100", "reason": "loss"},
    )
    assert bad.status_code == 409 and 'data-testid="error-adjust"' in bad.text
    csv = await admin.get("/stock.csv", params={"q": product["sku"]})
    assert csv.status_code == 200 and f"{product['sku']},Test product,MAIN" in csv.text
    assert (await api.get(f"/api/inventory/{product['sku']}")).json()["on_hand"] == 7
    await admin.aclose()


async def test_products_import_with_their_kind(api: httpx.AsyncClient, engine: Engine) -> None:
    """A service imports as a service (no stock), goods by default; a bad kind is a line error."""
    admin = await staff_client(api, ADMIN_TOKEN)
    tag = uuid.uuid4().hex[:6].upper()
    bad = f"sku,name,price,kind\nFIT-{tag},Fitting,45.00,labour\n"
    refused = await admin.post("/imports", **_upload("products", bad, "import"))
    assert refused.status_code == 422 and 'data-line="2"' in refused.text, refused.text
    text = f"sku,name,price,kind\nFIT-{tag},Fitting,45.00,service\nBOX-{tag},Box,3.00,\n"
    done = await admin.post("/imports", **_upload("products", text, "import"))
    assert done.status_code == 200 and 'data-testid="import-done"' in done.text, done.text
    with session_scope(engine) as session:
        fitting = inventory_service.get_by_sku(session=session, sku=f"FIT-{tag}")
        box = inventory_service.get_by_sku(session=session, sku=f"BOX-{tag}")
        assert fitting is not None and box is not None
        assert (fitting.kind, box.kind) == (ProductKind.SERVICE, ProductKind.GOODS)
    await admin.aclose()


async def test_products_import_drop_ship_allowable(api: httpx.AsyncClient, engine: Engine) -> None:
    """`drop_ship_allowed` yes: each order line of the product from stock or from a supplier."""
    admin = await staff_client(api, ADMIN_TOKEN)
    tag = uuid.uuid4().hex[:6].upper()
    text = f"sku,name,price,drop_ship_allowed\nCHR-{tag},Chair,80.00,yes\nLMP-{tag},Lamp,9.00,\n"
    done = await admin.post("/imports", **_upload("products", text, "import"))
    assert done.status_code == 200 and 'data-testid="import-done"' in done.text, done.text
    with session_scope(engine) as session:
        chair = inventory_service.get_by_sku(session=session, sku=f"CHR-{tag}")
        lamp = inventory_service.get_by_sku(session=session, sku=f"LMP-{tag}")
        assert chair is not None and lamp is not None
        assert (chair.drop_ship_allowed, lamp.drop_ship_allowed) == (True, False)
    exported = await admin.get("/products.csv", params={"q": f"CHR-{tag}"})
    assert exported.status_code == 200
    header, row = exported.text.splitlines()[:2]
    assert dict(zip(header.split(","), row.split(","), strict=True))["drop_ship_allowed"] == "yes"
    await admin.aclose()
