"""One journal row: the shape every posting of the journal takes."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Posting:
    """One journal row: an amount on one side of one account."""

    date: date
    journal: str
    document_type: str  # invoice | credit_note | payment | discount | receipt | cogs |
    # stock_return | supplier_invoice | supplier_payment
    document: str
    order: str
    customer_id: int
    account: str
    description: str
    debit: Decimal
    credit: Decimal
    currency: str

    def row(self) -> list[str]:
        """The posting as CSV cells."""
        return [
            self.date.isoformat(),
            self.journal,
            self.document_type,
            self.document,
            self.order,
            str(self.customer_id),
            self.account,
            self.description,
            f"{self.debit:.2f}" if self.debit else "",
            f"{self.credit:.2f}" if self.credit else "",
            self.currency,
        ]
