"""Opportunity tables (the deal and its stage history), the stages and lost reasons, API shapes."""

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints
from sqlmodel import Field, SQLModel

from conveyor.core.models import money_field, timestamp_field


class Stage(StrEnum):
    """Where a deal stands; `won` and `lost` close it."""

    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    WON = "won"
    LOST = "lost"


OPEN_STAGES = (Stage.PROSPECTING, Stage.QUALIFICATION, Stage.PROPOSAL, Stage.NEGOTIATION)
CLOSED_STAGES = (Stage.WON, Stage.LOST)
# The probability (percent) a deal gets when it enters a stage without one given.
DEFAULT_PROBABILITY: dict[Stage, int] = {
    Stage.PROSPECTING: 10,
    Stage.QUALIFICATION: 25,
    Stage.PROPOSAL: 50,
    Stage.NEGOTIATION: 75,
    Stage.WON: 100,
    Stage.LOST: 0,
}


class LostReason(StrEnum):
    """Why a deal was lost (the list the lost form and the API offer)."""

    PRICE = "price"
    COMPETITOR = "competitor"
    NO_BUDGET = "no_budget"
    NO_DECISION = "no_decision"
    TIMING = "timing"
    REQUIREMENTS = "requirements"
    OTHER = "other"


class Opportunity(SQLModel, table=True):
    """A deal with a customer: its value, stage and owner; its quotes carry its number in
    `salesorder.opportunity`, so accepting one voids the others (sibling quotes)."""

    id: int | None = Field(default=None, primary_key=True)
    number: str | None = Field(default=None, max_length=32, unique=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    title: str = Field(max_length=200)
    value: Decimal = money_field()
    currency: str = Field(max_length=3)
    stage: str = Field(default=Stage.PROSPECTING, max_length=16, index=True)
    probability: int = 0
    expected_close: date | None = None
    owner_id: int | None = Field(default=None, foreign_key="employee.id", index=True)
    lost_reason: str | None = Field(default=None, max_length=32)
    close_note: str = Field(default="", max_length=500)
    won_order: str | None = Field(default=None, max_length=32)  # the accepted quote
    created_by: str = Field(default="system", max_length=320)
    created_at: datetime = timestamp_field()
    updated_at: datetime = timestamp_field()
    closed_at: datetime | None = timestamp_field(nullable=True, default_now=False)


class OpportunityStageChange(SQLModel, table=True):
    """One move of a deal from a stage to another (the first row: the stage it started in)."""

    __tablename__ = "opportunitystagechange"

    id: int | None = Field(default=None, primary_key=True)
    opportunity_id: int = Field(foreign_key="opportunity.id", index=True)
    from_stage: str | None = Field(default=None, max_length=16)
    to_stage: str = Field(max_length=16)
    probability: int
    note: str = Field(default="", max_length=500)
    actor: str = Field(max_length=320)
    changed_at: datetime = timestamp_field()


Currency = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Z]{3}$")]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class OpportunityCreate(SQLModel):
    customer_id: int = Field(gt=0, le=2**31 - 1)
    title: Title
    value: Decimal = Field(ge=0, max_digits=12, decimal_places=2)
    currency: Currency | None = None
    stage: Stage = Stage.PROSPECTING
    probability: int | None = Field(default=None, ge=0, le=100)
    expected_close: date | None = None
    owner_id: int | None = Field(default=None, gt=0, le=2**31 - 1)


class OpportunityUpdate(SQLModel):
    """Only the fields given change (a closed deal changes no more)."""

    title: Title | None = None
    value: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2)
    probability: int | None = Field(default=None, ge=0, le=100)
    expected_close: date | None = None
    owner_id: int | None = Field(default=None, gt=0, le=2**31 - 1)


class StageMove(SQLModel):
    """Move to another open stage, or close as won; probability: the stage's default if none."""

    stage: Stage
    probability: int | None = Field(default=None, ge=0, le=100)
    note: str = Field(default="", max_length=500)


class MarkLost(SQLModel):
    reason: LostReason
    note: str = Field(default="", max_length=500)


class StageChangePublic(SQLModel):
    from_stage: str | None
    to_stage: str
    probability: int
    note: str
    actor: str
    changed_at: datetime


class OpportunityQuote(SQLModel):
    number: str
    status: str
    current_step: str | None
    total: Decimal
    currency: str
    created_at: datetime


class OpportunitySummary(SQLModel):
    number: str
    customer_id: int
    customer_name: str
    title: str
    value: Decimal
    currency: str
    stage: str
    probability: int
    weighted_value: Decimal
    expected_close: date | None
    owner_id: int | None
    owner_name: str | None
    lost_reason: str | None
    won_order: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class OpportunityPublic(OpportunitySummary):
    close_note: str
    created_by: str
    quotes: list[OpportunityQuote]
    history: list[StageChangePublic]


class OpportunitiesPublic(SQLModel):
    data: list[OpportunitySummary]
    count: int


class PipelineRow(SQLModel):
    """Deals in one stage (and currency): how many, their value and their weighted value."""

    stage: str
    currency: str
    count: int
    total: Decimal
    weighted: Decimal


class PipelineOwnerRow(SQLModel):
    """One owner's open deals (and currency)."""

    owner_id: int | None
    owner_name: str | None
    currency: str
    count: int
    total: Decimal
    weighted: Decimal


class Pipeline(SQLModel):
    owner_id: int | None
    stages: list[PipelineRow]
    owners: list[PipelineOwnerRow]
    lost_reasons: dict[str, int]
