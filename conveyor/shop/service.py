"""Cart operations: add, change, remove, empty after checkout; bounded and audited."""

from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, delete, select

from conveyor.audit.service import Actor, record
from conveyor.core.errors import Invalid
from conveyor.core.models import row_id, utcnow
from conveyor.inventory import service as inventory_service
from conveyor.inventory.models import Product
from conveyor.shop.models import Cart, CartLine, new_checkout_key

# Bounds of what a customer may put in a cart (input from outside is bounded).
MAX_LINES = 50
MAX_QTY = 1000
MAX_OPTIONS = 20


class CartError(Invalid):
    """The cart refused the change (unknown or retired product, quantity out of bounds...)."""


def get_cart(*, session: Session, customer_id: int) -> Cart | None:
    """The customer's cart, or None when they never had one."""
    return session.exec(select(Cart).where(Cart.customer_id == customer_id)).first()


def ensure_cart(*, session: Session, customer_id: int) -> Cart:
    """The customer's cart, created on first use."""
    cart = get_cart(session=session, customer_id=customer_id)
    if cart is not None:
        return cart
    try:
        with session.begin_nested():  # two first adds at once: the unique customer_id settles it
            cart = Cart(customer_id=customer_id)
            session.add(cart)
            session.flush()
    except IntegrityError:
        cart = get_cart(session=session, customer_id=customer_id)
        if cart is None:
            raise
    return cart


def lines(*, session: Session, cart_id: int) -> list[CartLine]:
    """The cart's lines in the order they were added."""
    query = select(CartLine).where(CartLine.cart_id == cart_id).order_by(col(CartLine.id))
    return list(session.exec(query))


def orderable(product: Product | None, sku: str) -> Product:
    """The product, if it can be ordered; CartError for an unknown or retired one."""
    if product is None:
        raise CartError(f"unknown product {sku}")
    if product.retired_at is not None:
        raise CartError(f"{product.sku} is no longer sold")
    return product


def _checked_qty(qty: int) -> int:
    if qty < 1 or qty > MAX_QTY:
        raise CartError(f"the quantity must be between 1 and {MAX_QTY}")
    return qty


def _checked_options(session: Session, product: Product, options: Sequence[str]) -> list[str]:
    chosen = list(dict.fromkeys(options))
    if len(chosen) > MAX_OPTIONS:
        raise CartError(f"at most {MAX_OPTIONS} options per product")
    for sku in chosen:
        if sku not in product.options:
            raise CartError(f"{sku} is not an option of {product.sku}")
        option = orderable(inventory_service.get_by_sku(session=session, sku=sku), sku)
        if option.currency != product.currency:
            raise CartError(f"{sku} is priced in {option.currency}, not {product.currency}")
    return chosen


def _touch(session: Session, cart: Cart) -> None:
    # Any change makes checkout forms shown before it stale (they would order something else).
    cart.checkout_key = new_checkout_key()
    cart.updated_at = utcnow()
    session.add(cart)


def _audit(
    session: Session, *, actor: Actor, action: str, cart: Cart, before: object, after: object
) -> None:
    record(
        session,
        actor=actor,
        action=action,
        entity="cart",
        entity_id=cart.customer_id,
        before=before,
        after=after,
    )


def _line(session: Session, cart: Cart, sku: str) -> CartLine | None:
    return session.exec(
        select(CartLine).where(CartLine.cart_id == cart.id).where(CartLine.sku == sku)
    ).first()


def add(
    *,
    session: Session,
    customer_id: int,
    sku: str,
    qty: int,
    options: Sequence[str] = (),
    actor: Actor,
) -> CartLine:
    """Put `qty` of a product (with options) in the cart; adds to a line of the same product.

    CartError for an unknown or retired product or option, a quantity outside 1..MAX_QTY (also
    in total on the line), a full cart, or a currency other than the cart's.
    """
    _checked_qty(qty)
    product = orderable(inventory_service.get_by_sku(session=session, sku=sku), sku)
    chosen = _checked_options(session, product, options)
    cart = ensure_cart(session=session, customer_id=customer_id)
    current = lines(session=session, cart_id=row_id(cart))
    line = next((ln for ln in current if ln.sku == product.sku), None)
    others = [ln for ln in current if ln is not line]
    if others:
        currency = orderable(
            inventory_service.get_by_sku(session=session, sku=others[0].sku), others[0].sku
        ).currency
        if currency != product.currency:
            raise CartError(
                f"your cart is in {currency}; {product.sku} is priced in "
                f"{product.currency}: order it separately"
            )
    before = {"sku": product.sku, "qty": line.qty, "options": line.options} if line else None
    if line is None:
        if len(current) >= MAX_LINES:
            raise CartError(f"a cart holds at most {MAX_LINES} products")
        line = CartLine(cart_id=row_id(cart), sku=product.sku, qty=qty, options=chosen)
    else:
        line.qty = _checked_qty(line.qty + qty)
        line.options = list(dict.fromkeys([*line.options, *chosen]))[:MAX_OPTIONS]
    session.add(line)
    _touch(session, cart)
    session.flush()
    after = {"sku": line.sku, "qty": line.qty, "options": line.options}
    _audit(session, actor=actor, action="cart.add", cart=cart, before=before, after=after)
    return line


def set_qty(*, session: Session, customer_id: int, sku: str, qty: int, actor: Actor) -> None:
    """Change a line's quantity (0 removes it); CartError for a product not in the cart."""
    cart = get_cart(session=session, customer_id=customer_id)
    line = _line(session, cart, sku) if cart is not None else None
    if cart is None or line is None:
        raise CartError(f"{sku} is not in your cart")
    before = {"sku": line.sku, "qty": line.qty}
    if qty == 0:
        session.delete(line)
        after = None
    else:
        line.qty = _checked_qty(qty)
        session.add(line)
        after = {"sku": line.sku, "qty": line.qty}
    _touch(session, cart)
    session.flush()
    action = "cart.remove" if after is None else "cart.update"
    _audit(session, actor=actor, action=action, cart=cart, before=before, after=after)


def empty_after_checkout(
    *, session: Session, customer_id: int, checkout_key: str, order_number: str, actor: Actor
) -> bool:
    """Empty the cart the order was placed from (when it is still that cart: same key)."""
    cart = get_cart(session=session, customer_id=customer_id)
    if cart is None or cart.checkout_key != checkout_key:
        return False
    session.execute(delete(CartLine).where(col(CartLine.cart_id) == cart.id))
    _touch(session, cart)
    session.flush()
    after = {"order": order_number, "lines": 0}
    _audit(session, actor=actor, action="cart.checkout", cart=cart, before=None, after=after)
    return True
