"""Routing rules page: the rules in force, laid out, and a preview form."""

from pathlib import Path
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import Principal, ReadSessionDep, StateDep
from conveyor.auth.permissions import Permission
from conveyor.customer import service as customer_service
from conveyor.order.enums import Channel
from conveyor.order.routing import facts_for
from conveyor.pages.numbers import plain_number
from conveyor.pages.web import page_router, render, require_page
from routing_rules import preview as route_preview
from routing_rules.models import RuleFileError
from routing_rules.preview import PreviewLine, PreviewRequest

router = page_router()


def parse_lines(text: str) -> list[PreviewLine]:
    """`SKU qty` per line (qty defaults to 1); raises ValueError on a bad line."""
    lines = []
    for number, raw in enumerate(text.splitlines(), start=1):
        parts = raw.replace(",", " ").split()
        if not parts:
            continue
        qty = parts[1] if len(parts) > 1 else "1"
        if len(parts) > 2 or not qty.isdigit():
            raise ValueError(f"line {number}: write the SKU and the quantity, e.g. KB-MECH 2")
        lines.append(PreviewLine(sku=parts[0], qty=int(qty)))
    return lines


def describe(condition: object, nested: bool = False) -> str:
    """A rule condition in words: `channel is web and total ≥ 5000`."""
    kind = getattr(condition, "kind", None)
    if kind in ("all", "any"):
        parts = [describe(c, nested=True) for c in condition.conditions]  # type: ignore[attr-defined]
        joined = f" {'and' if kind == 'all' else 'or'} ".join(parts)
        return f"({joined})" if nested and len(parts) > 1 else joined
    if kind == "one_of":
        values = " or ".join(sorted(condition.values))  # type: ignore[attr-defined]
        return f"{condition.key.replace('_', ' ')} is {values}"  # type: ignore[attr-defined]
    if kind == "total":
        bounds = [
            f"total {sign} {value}"
            for sign, value in (
                ("≥", condition.gte),  # type: ignore[attr-defined]
                (">", condition.gt),  # type: ignore[attr-defined]
                ("≤", condition.lte),  # type: ignore[attr-defined]
                ("<", condition.lt),  # type: ignore[attr-defined]
            )
            if value is not None
        ]
        return " and ".join(bounds)
    if kind == "tags":
        tags = ", ".join(sorted(condition.tags))  # type: ignore[attr-defined]
        return f"{'any' if condition.mode == 'any' else 'all'} of the tags {tags}"  # type: ignore[attr-defined]
    if kind == "has_drop_ship":
        return "has drop-ship lines" if condition.value else "no drop-ship lines"  # type: ignore[attr-defined]
    return str(condition)


def _sources(directory: Path, files: list[str]) -> dict[str, str]:
    """The text of the rule files in force, to show as written (unreadable ones are skipped)."""
    texts = {}
    for name in files:
        try:
            texts[name] = (directory / Path(name).name).read_text(encoding="utf-8")
        except OSError:
            continue
    return texts


@router.get("/rules", include_in_schema=False)
def rules_page(
    request: Request,
    state: StateDep,
    session: ReadSessionDep,
    principal: Annotated[Principal, require_page(Permission.RULES_VIEW)],
    channel: Annotated[str, Query(max_length=32)] = "",
    customer_id: Annotated[str, Query(max_length=320)] = "",
    lines: Annotated[str, Query(max_length=4000)] = "",
    total: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The rules in match order; with `channel` given, the preview of that order's route."""
    try:
        rule_set = state.rules.current()
    except RuleFileError as exc:
        rule_set, problems = None, exc.errors
    else:
        error = state.rules.last_error
        problems = error.errors if error else None
    preview, preview_error = None, None
    if channel:
        try:
            customer = None
            if customer_id.strip():
                customer = customer_service.find(session=session, text=customer_id)
                if customer is None:
                    raise ValueError(
                        f"no customer {customer_id.strip()!r}: give a name, e-mail or number"
                    )
            if not lines.strip() and not total.strip():
                raise ValueError("give the order's lines or its total to preview its route")
            body = PreviewRequest(
                channel=channel,
                customer_id=customer.id if customer else None,
                lines=parse_lines(lines),
                total=plain_number(total) or None,
            )
            facts = facts_for(
                session=session,
                channel=body.channel,
                customer_id=body.customer_id,
                lines=body.order_lines,
                total=body.total,
            )
            preview = route_preview.preview(body, facts, state.rules.current())
        except ValidationError as exc:
            preview_error = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
        except (ValueError, RuleFileError) as exc:
            preview_error = str(exc).splitlines()[0] if str(exc) else "invalid preview input"
    context = {
        "sources": _sources(state.rules.directory, rule_set.files if rule_set else []),
        "page": "rules",
        "describe": describe,
        "rule_set": rule_set,
        "problems": problems,
        "directory": state.rules.directory.name,
        "channels": list(Channel),
        "form": {"channel": channel, "customer_id": customer_id, "lines": lines, "total": total},
        "preview": preview,
        "preview_error": preview_error,
    }
    return render(request, "rules.html", context, principal=principal)
