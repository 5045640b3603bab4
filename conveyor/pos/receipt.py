"""A counter sale's receipt as a PDF for an 80 mm receipt printer (72 mm printed width)."""

from decimal import Decimal

from fpdf import FPDF
from sqlmodel import Session

from conveyor.core import pdf
from conveyor.core.models import row_id
from conveyor.order import service as order_service
from conveyor.order.models import OrderLine, SalesOrder
from conveyor.pos.models import CounterSale

WIDTH = 80.0  # mm: the paper roll
MARGIN = 4.0
LINE = 4.2  # mm per printed line
AMOUNT = 22.0  # mm for the amount column


TALL = 2000.0  # mm: the first, measuring pass, on a roll long enough for any receipt


def _row(out: FPDF, left: str, right: str = "", *, bold: bool = False) -> None:
    out.set_font(pdf.FONT, "B" if bold else "", 8)
    text_width = WIDTH - 2 * MARGIN - (AMOUNT if right else 0)
    out.cell(text_width, LINE, pdf.fit(out, left, text_width - 1))
    if right:
        out.cell(AMOUNT, LINE, right, align="R")
    out.ln(LINE)


def _money(amount: Decimal) -> str:
    return f"{Decimal(amount):,.2f}"


def render(*, session: Session, order: SalesOrder, sale: CounterSale) -> bytes:
    """The receipt: the seller, the order number, each line, totals, how it was paid.

    One page as long as its content: drawn once on a long roll to measure, then for real.
    """
    lines = order_service.lines(session=session, order_id=row_id(order))
    height = _draw(order, sale, lines, TALL).get_y() + MARGIN
    return pdf.output(_draw(order, sale, lines, height))


def _draw(order: SalesOrder, sale: CounterSale, lines: list[OrderLine], height: float) -> FPDF:
    company = pdf.seller()
    out = pdf.Document(unit="mm", format=(WIDTH, height))
    out.set_title(f"Receipt {order.number}")
    out.set_author(company.name)
    out.set_compression(False)  # the text stays searchable as is
    out.set_margins(MARGIN, MARGIN, MARGIN)
    out.set_auto_page_break(False)
    out.add_page()
    out.set_font(pdf.FONT, "B", 11)
    out.cell(0, 6, company.name, align="C", new_x="LMARGIN", new_y="NEXT")
    out.set_font(pdf.FONT, "", 7)
    for text in [*company.address, company.email]:
        out.cell(0, 3.5, text, align="C", new_x="LMARGIN", new_y="NEXT")
    if company.tax_id:
        out.cell(0, 3.5, f"Tax ID: {company.tax_id}", align="C", new_x="LMARGIN", new_y="NEXT")
    out.ln(2)
    _row(out, f"Receipt {order.number}", bold=True)
    _row(out, f"{sale.sold_at:%Y-%m-%d %H:%M} UTC")
    _row(out, f"Served by {sale.sold_by}")
    out.ln(1)
    for line in lines:
        _row(out, line.name or line.sku)
        detail = f"  {line.qty} x {_money(line.unit_price)}  {line.sku}"
        _row(out, detail, _money(line.line_total))
    out.ln(1)
    currency = order.currency
    _row(out, "Subtotal", _money(order.subtotal))
    if order.discount_total:
        _row(out, "Discount included", _money(order.discount_total))
    _row(out, "Tax included" if order.prices_include_tax else "Tax", _money(order.tax_total))
    _row(out, f"Total {currency}", _money(order.total), bold=True)
    out.ln(1)
    _row(out, f"Paid by {sale.tender}", _money(sale.tendered))
    if sale.change:
        _row(out, "Change", _money(sale.change))
    if sale.reference:
        _row(out, f"Reference {sale.reference}")
    out.ln(3)
    out.set_font(pdf.FONT, "", 7)
    out.cell(0, 3.5, "Thank you. Keep this receipt for returns.", align="C")
    out.ln(3.5)
    return out
