"""PDF documents: an FPDF with a bundled Unicode font, the seller's letterhead and a table."""

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from fpdf import FPDF
from fpdf.fonts import TTFFont

from conveyor.core.font_subset import COMMON, FONTS, FULL
from conveyor.core.settings import settings

# DejaVu Sans (Bitstream Vera licence, fonts/LICENSE.txt) ships in the package: Latin, Greek,
# Cyrillic and more print on a machine with no font installed. Text is set in its common cut
# (`font_subset`); the full font is the fallback for any other character.
FONT = "DejaVu"
FULL_FONT = "DejaVuFull"
# fontTools logs every table it drops while subsetting the font into a PDF, at INFO.
logging.getLogger("fontTools").setLevel(logging.WARNING)


@dataclass(frozen=True)
class Seller:
    """The seller's details printed on every document (settings `CONVEYOR_COMPANY_*`)."""

    name: str
    address: list[str]
    tax_id: str
    bank_details: list[str]
    email: str


@dataclass(frozen=True)
class Column:
    """One table column: its width in mm, its title and its alignment (`L` or `R`)."""

    width: float
    title: str
    align: str = "L"


def _lines(value: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\n;]", value) if line.strip()]


def seller() -> Seller:
    """The seller's details from the settings, address and bank details split into lines."""
    return Seller(
        name=settings.company_name,
        address=_lines(settings.company_address),
        tax_id=settings.company_tax_id.strip(),
        bank_details=_lines(settings.company_bank_details),
        email=settings.company_email.strip() or settings.mail_from,
    )


class Document(FPDF):
    """An FPDF with the bundled font (regular and bold) registered.

    The full fonts are added, as fallback, the first time a text needs a character the common
    cut lacks: embedding a font costs in proportion to its glyphs, for every document.
    """

    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        for style, name in COMMON.items():
            self.add_font(FONT, style, str(FONTS / name))
        self._full_fonts = False

    def normalize_text(self, text: str) -> str:
        if not self._full_fonts and self._needs_full_font(text):
            for style, name in FULL.items():
                self.add_font(FULL_FONT, style, str(FONTS / name))
            self.set_fallback_fonts([FULL_FONT])
            self._full_fonts = True
        return super().normalize_text(text)

    def _needs_full_font(self, text: str) -> bool:
        common = self.fonts[FONT.lower()]
        assert isinstance(common, TTFFont)
        return any(ord(char) not in common.cmap for char in text if char not in "\r\n")


def document(title: str) -> FPDF:
    """A new A4 PDF with a first page, the Unicode font set, and the seller's letterhead."""
    pdf = Document(format="A4")
    company = seller()
    pdf.set_title(title)
    pdf.set_author(company.name)
    # Uncompressed content streams: a few kB more, and the text stays searchable as is.
    pdf.set_compression(False)
    pdf.add_page()
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 6, company.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    contact = [*company.address, company.email]
    if company.tax_id:
        contact.append(f"Tax ID: {company.tax_id}")
    for line in contact:
        pdf.cell(0, 4.5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
    pdf.set_font(FONT, "B", 16)
    pdf.cell(0, 10, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)
    return pdf


def lines(pdf: FPDF, texts: Iterable[str], *, bold_first: bool = False, height: float = 6) -> None:
    """Print one line per text at the left margin (the first one bold if asked)."""
    for index, text in enumerate(texts):
        pdf.set_font(FONT, "B" if bold_first and index == 0 else "", 10)
        pdf.cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=10)


def table(pdf: FPDF, columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    """Print a table: bold titles over a rule, then one line per row, cells cut to fit."""
    pdf.set_font(FONT, "B", 10)
    for column in columns:
        pdf.cell(column.width, 7, column.title, border="B", align=column.align)
    pdf.ln()
    pdf.set_font(FONT, size=10)
    for row in rows:
        for column, value in zip(columns, row, strict=True):
            pdf.cell(column.width, 6, fit(pdf, str(value), column.width - 2), align=column.align)
        pdf.ln()


def totals(pdf: FPDF, rows: Iterable[tuple[str, Decimal]], currency: str) -> None:
    """Print (label, amount) lines right-aligned under a table; the "Total" line bold."""
    for label, amount in rows:
        pdf.set_font(FONT, "B" if label == "Total" else "", 10)
        pdf.cell(156, 6, label, align="R")
        pdf.cell(30, 6, f"{Decimal(amount):.2f} {currency}", align="R")
        pdf.ln()
    pdf.set_font(FONT, size=10)


def percent(rate: Decimal) -> str:
    """A tax rate in percent as printed: `20 %`, `7.5 %`."""
    return f"{Decimal(rate).normalize():f} %"


def fit(pdf: FPDF, text: str, width: float) -> str:
    """The text cut with an ellipsis to `width` mm, so a cell never overflows its neighbour."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def output(pdf: FPDF) -> bytes:
    """The finished document as PDF bytes."""
    return bytes(pdf.output())
