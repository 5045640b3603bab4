"""The product record page: price, tags, tax class, options, supplier, stock, audit history."""

from typing import Annotated

from fastapi import Request
from fastapi.responses import Response

from api.deps import Principal, ReadSessionDep
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.inventory import read as product_read
from conveyor.inventory import service as inventory_service
from conveyor.pages.history import history
from conveyor.pages.web import page_refusal, page_router, render, require_page

router = page_router()


@router.get("/products/{sku}", include_in_schema=False)
def product_page(
    sku: str,
    request: Request,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.STOCK_VIEW)],
) -> Response:
    """One product with its stock per warehouse (on hand, committed, available)."""
    product = inventory_service.get_by_sku(session=session, sku=sku[:64])
    if product is None:
        return page_refusal(request, NotFound(f"product {sku[:64]} not found"), principal=principal)
    context = {
        "page": "products",
        "product": product,
        "level": product_read.stock_level(session, product),
        "options": inventory_service.get_many(session=session, skus=product.options),
        "may_edit": principal.can(Permission.PRODUCTS_MANAGE),
        "history": history(session, principal, [("product", [product.sku])]),
    }
    return render(request, "product.html", context, principal=principal)
