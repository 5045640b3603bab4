"""Render an e-mail (subject, text and HTML) from the Jinja2 templates of its kind."""

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from conveyor.order.wording import customer_cancel_reason

TEMPLATES_DIR = Path(str(files("conveyor.notification") / "templates"))
KINDS = (
    "task_assigned",
    "task_reminder",
    "task_escalated",
    "order_confirmation",
    "order_shipped",
    "order_delivered",
    "invoice_issued",
    "payment_received",
    "payment_overdue",
    "quote_sent",
    "quote_expiring",
    "purchase_order",
    "order_amended",
    "order_cancelled",
    "return_received",
    "support_reply",
    "customer_message",
)

_text = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR), undefined=StrictUndefined, keep_trailing_newline=True
)
_html = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    undefined=StrictUndefined,
    autoescape=select_autoescape(["html"]),
)

for _env in (_text, _html):  # customers read their own words: no internal cancel reason
    _env.filters["customer_reason"] = customer_cancel_reason


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render(kind: str, context: dict[str, Any]) -> RenderedMail:
    """The subject (block `subject` of `<kind>.txt`), text and HTML body of one message."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    text_template = _text.get_template(f"{kind}.txt")
    subject = "".join(text_template.blocks["subject"](text_template.new_context(context)))
    return RenderedMail(
        subject=" ".join(subject.split()),
        text=text_template.render(context),
        html=_html.get_template(f"{kind}.html").render(context),
    )
