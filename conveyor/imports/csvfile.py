"""Reading an uploaded CSV: bounded in size and rows, each record with the line it starts on."""

from dataclasses import dataclass

from conveyor.core.spreadsheet import CsvError, csv_reader

MAX_BYTES = 512 * 1024
MAX_ROWS = 5000
MAX_CELL = 1000


@dataclass(frozen=True)
class Problem:
    """One error of an import: the line (1 = the header; 0 = the file as a whole) and what."""

    line: int
    message: str
    column: str | None = None


@dataclass(frozen=True)
class Record:
    """One data row: its first line in the file and its cells by (lower-case) column name."""

    line: int
    cells: dict[str, str]


class Unreadable(Exception):
    """The file as a whole cannot be read (too big, not text, no header)."""


def decode(content: bytes) -> str:
    """The upload as text (UTF-8, with or without a byte-order mark); Unreadable otherwise."""
    if len(content) > MAX_BYTES:
        raise Unreadable(f"the file is larger than {MAX_BYTES // 1024} KiB: split it")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Unreadable(f"the file is not UTF-8 text (byte {exc.start})") from exc


def read(
    text: str, *, columns: tuple[str, ...], required: tuple[str, ...]
) -> tuple[list[Record], list[Problem]]:
    """The records of `text`, and the problems of its header and shape.

    The header names the columns (any order and case); unknown or repeated columns and missing
    required ones are errors of line 1. Blank lines are skipped; a row with more cells than the
    header is an error of its line.
    """
    if len(text.encode()) > MAX_BYTES:
        raise Unreadable(f"the file is larger than {MAX_BYTES // 1024} KiB: split it")
    reader = csv_reader(text)
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise Unreadable("the file is empty: the first line names the columns") from None
    except CsvError as exc:
        raise Unreadable(f"line 1: {exc}") from exc
    problems = _header_problems(header, columns, required)
    records: list[Record] = []
    start = reader.line_num + 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(records) >= MAX_ROWS:
                raise Unreadable(f"more than {MAX_ROWS} rows: split the file")
            if len(cells) > len(header):
                problems.append(
                    Problem(line, f"{len(cells)} cells, but the header names {len(header)}")
                )
                continue
            if any(len(cell) > MAX_CELL for cell in cells):
                problems.append(Problem(line, f"a cell is longer than {MAX_CELL} characters"))
                continue
            # Empty cells are left out: the column's default applies.
            shown = zip(header, cells, strict=False)  # a short row: its last cells are empty
            records.append(Record(line, {h: c.strip() for h, c in shown if c.strip()}))
    except CsvError as exc:
        problems.append(Problem(reader.line_num, f"not valid CSV: {exc}"))
    return records, problems


def _header_problems(
    header: list[str], columns: tuple[str, ...], required: tuple[str, ...]
) -> list[Problem]:
    problems = []
    for name in sorted({n for n in header if header.count(n) > 1}):
        problems.append(Problem(1, f"column {name!r} appears twice", name))
    for name in header:
        if name not in columns:
            expected = ", ".join(columns)
            problems.append(Problem(1, f"unknown column {name!r} (columns: {expected})", name))
    for name in required:
        if name not in header:
            problems.append(Problem(1, f"missing column {name!r}", name))
    return problems
