"""Export runs to accounting packages: what was exported when, by whom, and the file itself."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from conveyor.core.models import timestamp_field


class ExportRun(SQLModel, table=True):
    """One export for one package: the documents it took and the exact file it produced.

    The file is kept as produced, so downloading a past run again gives the same bytes.
    """

    __tablename__ = "exportrun"

    id: int | None = Field(default=None, primary_key=True)
    package: str = Field(max_length=32, index=True)
    created_at: datetime = timestamp_field()
    created_by: str = Field(max_length=320)
    period_start: date
    period_end: date
    # Document keys, `<kind>:<number>` (customer, invoice, credit_note, payment), in file order.
    documents: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    counts: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    filename: str = Field(max_length=200)
    media_type: str = Field(max_length=100)
    content: bytes = Field(default=b"", sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(max_length=64)


class ExportedDocument(SQLModel, table=True):
    """A document taken by a run: unique per package, so no document is exported twice to it
    (two runs racing for the same document: the second one's insert fails and it takes none)."""

    __tablename__ = "exporteddocument"
    __table_args__ = (
        UniqueConstraint("package", "kind", "document", name="uq_exporteddocument_document"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="exportrun.id", index=True)
    package: str = Field(max_length=32)
    kind: str = Field(max_length=16)  # customer | invoice | credit_note | payment
    document: str = Field(max_length=64)


class ExportRunCreate(SQLModel):
    package: str = Field(min_length=1, max_length=32)
    period_start: date = Field(alias="from")
    period_end: date = Field(alias="to")


class ExportRunPublic(SQLModel):
    id: int
    package: str
    created_at: datetime
    created_by: str
    period_start: date
    period_end: date
    documents: list[str]
    counts: dict[str, Any]
    filename: str
    media_type: str
    sha256: str
    size: int


class ExportRunsPublic(SQLModel):
    data: list[ExportRunPublic]
    count: int


class ExportPreview(SQLModel):
    """What a new run for a package and period would take (nothing is recorded)."""

    package: str
    period_start: date
    period_end: date
    documents: list[str]
    counts: dict[str, Any]
