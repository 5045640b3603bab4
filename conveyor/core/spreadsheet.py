"""CSV for spreadsheets: the one writer every export uses (safe against formula injection), and the
one reader the imports use."""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

# A cell a spreadsheet would evaluate: =, +, - or @ first (or a tab or CR before them).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Plain numbers ("-12.50") are data, not formulas: they keep their sign.
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def safe_cell(value: object) -> object:
    """The cell as written: text that a spreadsheet would run as a formula gets a leading `'`."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A header row and the rows as CSV text (CRLF line ends, as RFC 4180 and Excel expect)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return buffer.getvalue()


if TYPE_CHECKING:
    import _csv

# Unreadable CSV, as the reader raises it.
CsvError = csv.Error


def csv_reader(text: str) -> "_csv.Reader":
    """Rows of CSV text as lists of cells (its `line_num` is the line the last row ended on)."""
    return csv.reader(io.StringIO(text, newline=""))
