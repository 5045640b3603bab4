"""Export runs: pick the documents not yet exported to a package, render its files, record it."""

import hashlib
from collections.abc import Sequence
from datetime import date

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from conveyor.accounting import packages
from conveyor.accounting import service as accounting_service
from conveyor.accounting.mapping import AccountMap
from conveyor.accounting.models import ExportedDocument, ExportPreview, ExportRun, ExportRunPublic
from conveyor.accounting.packages import CustomerRecord, ExportData, Package
from conveyor.accounting.service import Posting
from conveyor.audit import service as audit_service
from conveyor.audit.service import Actor
from conveyor.core.errors import Conflict, Invalid
from conveyor.customer.models import AddressKind, Customer, CustomerAddress

MEDIA_TYPE = "application/zip"


def package(name: str) -> Package:
    """The package called `name`; Invalid names the ones there are."""
    found = packages.PACKAGES.get(name)
    if found is None:
        known = ", ".join(sorted(packages.PACKAGES))
        raise Invalid(f"unknown accounting package {name!r} (one of: {known})")
    return found


def key(kind: str, document: str) -> str:
    """A document's key in a run: `<kind>:<number>`."""
    return f"{kind}:{document}"


def _exported(session: Session, package_name: str) -> set[tuple[str, str]]:
    rows = session.exec(
        select(ExportedDocument.kind, ExportedDocument.document).where(
            ExportedDocument.package == package_name
        )
    )
    return {(kind, document) for kind, document in rows}


def _customers(session: Session, ids: Sequence[int]) -> list[CustomerRecord]:
    if not ids:
        return []
    found = {c.id: c for c in session.exec(select(Customer).where(col(Customer.id).in_(ids)))}
    addresses: dict[int, CustomerAddress] = {}
    for row in session.exec(
        select(CustomerAddress)
        .where(col(CustomerAddress.customer_id).in_(ids))
        .where(CustomerAddress.kind == AddressKind.BILLING)
        .where(col(CustomerAddress.retired_at).is_(None))
        .order_by(col(CustomerAddress.is_default).desc(), col(CustomerAddress.id))
    ):
        addresses.setdefault(row.customer_id, row)
    records = []
    for customer_id in ids:
        customer = found.get(customer_id)
        if customer is None:
            continue
        billing = addresses.get(customer_id)
        address = (
            (billing.line1, billing.line2 or "", billing.city, billing.postcode or "")
            if billing
            else ("", "", "", "")
        )
        records.append(
            CustomerRecord(
                customer_id=customer_id,
                name=customer.name,
                email=customer.email,
                country=customer.country,
                group=customer.group,
                payment_terms_days=customer.payment_terms_days,
                credit_limit=customer.credit_limit,
                address=address,
            )
        )
    return records


def _select(
    *, session: Session, package_name: str, start: date, end: date, mapping: AccountMap
) -> tuple[ExportData, list[str]]:
    """The data of a new run and its document keys: what the journal holds for the period,
    less what was exported to this package before; customers the first time a document of
    theirs is exported."""
    if end < start:
        raise Invalid("the period ends before it starts")
    done = _exported(session, package_name)
    postings = accounting_service.journal(session=session, start=start, end=end, mapping=mapping)
    by_kind: dict[str, list[Posting]] = {kind: [] for kind in packages.KINDS}
    documents: dict[str, list[str]] = {kind: [] for kind in packages.KINDS}
    customer_ids: list[int] = []
    named: set[int] = set()
    for posting in postings:
        # An early-payment discount settles a receivable as a payment does: in the receipts.
        kind = "payment" if posting.document_type == "discount" else posting.document_type
        if kind not in by_kind:  # the stock journal (receipts into stock, COGS): not a debtor's
            continue
        if (kind, posting.document) in done:
            continue
        by_kind[kind].append(posting)
        if not documents[kind] or documents[kind][-1] != posting.document:
            documents[kind].append(posting.document)  # a document's postings come together
        if posting.customer_id and posting.customer_id not in named:
            named.add(posting.customer_id)
            if ("customer", str(posting.customer_id)) not in done:
                customer_ids.append(posting.customer_id)
    customers = _customers(session, customer_ids)
    documents["customer"] = [str(c.customer_id) for c in customers]
    keys = [key(kind, number) for kind in packages.KINDS for number in documents[kind]]
    terms = {
        c.id: c.payment_terms_days
        for c in session.exec(select(Customer).where(col(Customer.id).in_(named)))
        if c.id is not None
    }
    data = ExportData(customers=customers, postings=by_kind, mapping=mapping, terms=terms)
    return data, keys


def _counts(keys: Sequence[str]) -> dict[str, int]:
    counts = dict.fromkeys(packages.KINDS, 0)
    for k in keys:
        counts[k.split(":", 1)[0]] += 1
    return counts


def preview(
    *, session: Session, package_name: str, start: date, end: date, mapping: AccountMap
) -> ExportPreview:
    """What a new run would take now (nothing is recorded)."""
    package(package_name)
    _, keys = _select(
        session=session, package_name=package_name, start=start, end=end, mapping=mapping
    )
    return ExportPreview(
        package=package_name,
        period_start=start,
        period_end=end,
        documents=keys,
        counts=_counts(keys),
    )


def create(
    *,
    session: Session,
    package_name: str,
    start: date,
    end: date,
    mapping: AccountMap,
    actor: Actor,
) -> ExportRun:
    """Record a run of every not-yet-exported document of the period, with its file.

    Refuses a run with nothing new (Conflict). Two runs racing for the same documents: the
    unique (package, kind, document) makes the later one fail, so nothing is exported twice.
    """
    chosen = package(package_name)
    data, keys = _select(
        session=session, package_name=package_name, start=start, end=end, mapping=mapping
    )
    if not keys:
        raise Conflict(
            f"nothing new to export to {chosen.label} for {start.isoformat()} to "
            f"{end.isoformat()}: every document of the period was exported before"
        )
    content = packages.render(chosen, data)
    run = ExportRun(
        package=package_name,
        created_by=actor.name[:320],
        period_start=start,
        period_end=end,
        documents=keys,
        counts=_counts(keys),
        filename="",  # named after the run's id, once it has one
        media_type=MEDIA_TYPE,
        content=content,
        sha256=hashlib.sha256(content).hexdigest(),
    )
    session.add(run)
    session.flush()
    assert run.id is not None
    run.filename = f"{package_name}-{run.id:05d}-{start.isoformat()}-{end.isoformat()}.zip"
    for k in keys:
        kind, document = k.split(":", 1)
        session.add(
            ExportedDocument(run_id=run.id, package=package_name, kind=kind, document=document)
        )
    try:
        session.flush()
    except IntegrityError as exc:
        raise Conflict("another export took some of these documents just now: try again") from exc
    audit_service.record(
        session,
        actor=actor,
        action="accounting.export",
        entity="export_run",
        entity_id=run.id,
        after={
            "package": package_name,
            "period": [start, end],
            "counts": run.counts,
            "documents": keys,
            "sha256": run.sha256,
        },
    )
    return run


def get(*, session: Session, run_id: int) -> ExportRun | None:
    """One run, or None."""
    return session.get(ExportRun, run_id)


def file_headers(run: ExportRun) -> dict[str, str]:
    """The headers a run's file is downloaded with: an attachment, with its checksum."""
    return {
        "Content-Disposition": f'attachment; filename="{run.filename}"',
        "X-Content-SHA256": run.sha256,
    }


def list_runs(
    *, session: Session, package_name: str | None = None, limit: int = 100, offset: int = 0
) -> tuple[list[ExportRun], int]:
    """Runs newest first, and how many there are in all."""
    query = select(ExportRun)
    counted = select(func.count()).select_from(ExportRun)
    if package_name is not None:
        query = query.where(ExportRun.package == package_name)
        counted = counted.where(ExportRun.package == package_name)
    runs = session.exec(query.order_by(col(ExportRun.id).desc()).offset(offset).limit(limit))
    return list(runs), session.exec(counted).one()


def public(run: ExportRun) -> ExportRunPublic:
    """The run as the API shows it (without the file)."""
    assert run.id is not None
    return ExportRunPublic(
        id=run.id,
        package=run.package,
        created_at=run.created_at,
        created_by=run.created_by,
        period_start=run.period_start,
        period_end=run.period_end,
        documents=run.documents,
        counts=run.counts,
        filename=run.filename,
        media_type=run.media_type,
        sha256=run.sha256,
        size=len(run.content),
    )
