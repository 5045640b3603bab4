"""Run an import against a session: every row checked and written in its own savepoint, every
problem kept with its line. The caller commits only a report without problems (flows.py)."""

import hashlib
from dataclasses import dataclass, field

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from conveyor.audit.service import record
from conveyor.core.errors import DomainError
from conveyor.customer.service import CustomerExistsError
from conveyor.imports import csvfile
from conveyor.imports.csvfile import Problem, Record
from conveyor.imports.kinds import Context, Kind, RowError
from conveyor.inventory.service import (
    ProductExistsError,
    UnknownSkuError,
    UnknownWarehouseError,
)

# What a service may answer a row with: the row is wrong, not the import.
REFUSALS = (
    DomainError,
    CustomerExistsError,
    ProductExistsError,
    UnknownSkuError,
    UnknownWarehouseError,
    IntegrityError,
    ValueError,
)


@dataclass
class Report:
    """What an import found (and whether it wrote): rows read, problems by line."""

    kind: str
    rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def lines(self) -> list[int]:
        """The lines with problems, each once, in order."""
        return sorted({p.line for p in self.problems})


def digest(text: str) -> str:
    """A short digest of the file (ledger keys and the audit entry name the file by it)."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _validation_problems(line: int, exc: ValidationError) -> list[Problem]:
    problems = []
    for error in exc.errors():
        column = str(error["loc"][0]) if error["loc"] else None
        message = str(error["msg"]).removeprefix("Value error, ")
        where = f"{column}: " if column else ""
        problems.append(Problem(line, f"{where}{message}", column))
    return problems


def _row(session: Session, kind: Kind, row: Record, ctx: Context, seen: dict) -> list[Problem]:
    """Check and write one row (in a savepoint); its problems."""
    try:
        payload = kind.prepare(session, row.cells)
    except ValidationError as exc:
        return _validation_problems(row.line, exc)
    except RowError as exc:
        return [Problem(row.line, f"{exc.column}: {exc.message}", exc.column)]
    key = kind.duplicate_key(payload)
    if key in seen:
        return [Problem(row.line, f"duplicate of line {seen[key]}")]
    seen[key] = row.line
    try:
        with session.begin_nested():
            kind.write(session, payload, ctx)
    except REFUSALS as exc:
        message = exc.message if isinstance(exc, DomainError) else str(exc).splitlines()[0]
        return [Problem(row.line, message)]
    return []


def process(*, session: Session, kind: Kind, text: str, ctx: Context) -> Report:
    """Check every row of `text` and write the good ones into `session` (uncommitted).

    A wrong header stops there: the rows would only repeat its problem on every line.
    """
    records, problems = csvfile.read(text, columns=kind.columns, required=kind.required)
    report = Report(kind=kind.name, rows=len(records), problems=problems)
    if any(p.line == 1 for p in problems):
        return report
    seen: dict = {}
    for row in records:
        report.problems += _row(session, kind, row, ctx, seen)
    report.problems.sort(key=lambda p: p.line)
    if report.ok:
        record(
            session,
            actor=ctx.actor,
            action="import.run",
            entity="import",
            entity_id=ctx.file_key,
            after={"kind": kind.name, "rows": report.rows},
        )
    return report
