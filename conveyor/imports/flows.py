"""An import as one transaction: the dry run rolls back, "Import" commits only a clean run."""

from sqlalchemy.engine import Engine
from sqlmodel import Session

from conveyor.audit.service import Actor
from conveyor.imports import csvfile, service
from conveyor.imports.csvfile import Problem
from conveyor.imports.kinds import KINDS, Context
from conveyor.imports.service import Report


def run(
    engine: Engine,
    *,
    kind: str,
    content: bytes,
    actor: Actor,
    default_warehouse: str,
    write: bool,
) -> Report:
    """Check the file (`write=False`: a dry run, nothing kept), or import it: every row in one
    transaction, committed only when no row has a problem (otherwise nothing is written)."""
    spec = KINDS[kind]
    try:
        text = csvfile.decode(content)
    except csvfile.Unreadable as exc:
        return Report(kind=kind, problems=[Problem(0, str(exc))])
    ctx = Context(actor=actor, default_warehouse=default_warehouse, file_key=service.digest(text))
    # The dry run writes too (in the same savepoints), so it finds what the services would
    # refuse; rolling back keeps nothing of it.
    with Session(engine, expire_on_commit=False) as session:
        try:
            report = service.process(session=session, kind=spec, text=text, ctx=ctx)
        except csvfile.Unreadable as exc:
            session.rollback()
            return Report(kind=kind, problems=[Problem(0, str(exc))])
        except BaseException:
            session.rollback()
            raise
        if write and report.ok:
            session.commit()
            report.written = True
        else:
            session.rollback()
    return report
