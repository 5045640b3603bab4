"""Numbers as people type them: the pages print `1,234.50`, so they read it back too."""

import re

# Digits grouped in threes by commas, as the pages print amounts: 1,000 or 12,345.67.
GROUPED = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d*)?$")


def plain_number(text: str) -> str:
    """`text` with its thousands separators and surrounding spaces removed (`1,000.00` →
    `1000.00`); anything else unchanged, for validation to judge."""
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    return text.replace(",", "") if GROUPED.match(text) else text
