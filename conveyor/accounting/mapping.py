"""The account mapping: which ledger account each kind of posting goes to (defaults or YAML)."""

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from conveyor.core.errors import Unavailable

Account = str


class AccountMapError(Exception):
    """The mapping file cannot be read or is invalid; the message names the file and the field."""


class Accounts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    receivable: Account = "1200"
    bank: Account = "1000"
    revenue: Account = "4000"
    shipping: Account = "4100"
    special_charges: Account = "4200"
    tax: Account = "2200"
    # Order totals that were not itemised (e.g. a store's own shipping/tax/discount).
    adjustments: Account = "4990"
    # Costing: stock at its moving-average cost, what packed goods cost (debited at packing),
    # and goods received at cost not yet invoiced by the supplier (credited at receipt).
    inventory: Account = "1300"
    cost_of_goods_sold: Account = "5000"
    goods_received: Account = "2150"
    # Early-payment discounts granted under payment terms (a contra-revenue account).
    discounts: Account = "4400"
    # Supplier invoices: what we owe suppliers, the tax they charge us (reclaimable), and the
    # difference between an invoice's prices and the purchase order's (approved anyway).
    payable: Account = "2000"
    input_tax: Account = "1410"
    price_variance: Account = "5100"


class Journals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sales: str = "SALES"
    cash: str = "CASH"
    stock: str = "STOCK"
    purchases: str = "PURCH"


class AccountMap(BaseModel):
    """Accounts by posting kind, with overrides per item group, tax class and payment method."""

    model_config = ConfigDict(extra="forbid")

    accounts: Accounts = Field(default_factory=Accounts)
    revenue_by_item_group: dict[str, Account] = Field(default_factory=dict)
    tax_by_class: dict[str, Account] = Field(default_factory=dict)
    payment_methods: dict[str, Account] = Field(default_factory=dict)
    journals: Journals = Field(default_factory=Journals)

    def revenue_for(self, item_group: str | None) -> Account:
        """The revenue account for goods of an item group."""
        return self.revenue_by_item_group.get(item_group or "", self.accounts.revenue)

    def tax_for(self, tax_class: str) -> Account:
        """The tax payable account for a tax class."""
        return self.tax_by_class.get(tax_class, self.accounts.tax)

    def bank_for(self, method: str) -> Account:
        """The account money received by `method` lands on."""
        return self.payment_methods.get(method, self.accounts.bank)


def load(path: Path | None) -> AccountMap:
    """The mapping in `path` (YAML), or the defaults when no file is configured."""
    if path is None:
        return AccountMap()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise AccountMapError(f"{path}: {exc}") from exc
    try:
        return AccountMap.model_validate(_stringify(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise AccountMapError(f"{path}: {problems}") from exc


def load_configured(path: Path | None) -> AccountMap:
    """`load`, with a bad file refused as Unavailable (503): a configuration problem, not the
    caller's, said with what is wrong with the file."""
    try:
        return load(path)
    except AccountMapError as exc:
        raise Unavailable(f"account mapping: {exc}") from exc


def _stringify(data: object) -> object:
    # Account numbers written unquoted in YAML (4000) arrive as ints; they are codes, not numbers.
    if isinstance(data, dict):
        return {k: _stringify(v) for k, v in data.items()}
    if isinstance(data, int) and not isinstance(data, bool):
        return str(data)
    return data
