"""Settings: outbound webhook subscriptions listed, added, edited, deactivated, with their log."""

from typing import Annotated

from fastapi import Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session

from api.deps import Principal, ReadSessionDep, SessionDep
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.core.errors import NotFound
from conveyor.outbound import service as outbound_service
from conveyor.outbound.models import (
    EventType,
    OutboundSubscription,
    SubscriptionCreate,
    SubscriptionUpdate,
)
from conveyor.outbound.signing import verify_example_source
from conveyor.pages.form_page import FormPage, Refused, submit
from conveyor.pages.listing import PAGE_SIZE, Pager, offset
from conveyor.pages.settings_forms import FormField, form_values, to_input
from conveyor.pages.web import (
    CsrfChecked,
    WebSessionDep,
    flash_redirect,
    page_router,
    render,
    require_page,
)

router = page_router()
BASE = "/settings/webhooks"
Manager = Annotated[Principal, require_page(Permission.WEBHOOKS_MANAGE)]
FIELDS = (
    FormField("url", "URL", max_length=2000, hint="http or https; receives a signed POST"),
    FormField("description", "Description", "textarea", max_length=500),
)
EVENT_FIELDS = tuple(FormField(f"event_{e.value}", e.value, "checkbox") for e in EventType)
ACTIVE = FormField("active", "Active", "checkbox")
FORM = FormPage(
    template="settings_webhook.html",
    section="settings",
    record_name="subscription",
    base=BASE,
    key="id",
    entity="webhook_subscription",
    fields=FIELDS,
    create_shape=SubscriptionCreate,
    update_shape=SubscriptionUpdate,
    manage=Permission.WEBHOOKS_MANAGE,
    extra=lambda _session, _subscription: {
        "event_fields": EVENT_FIELDS,
        "active_field": ACTIVE,
        "verify_example": verify_example_source(),
    },
)


def _subscription(session: Session, subscription_id: int) -> OutboundSubscription:
    subscription = outbound_service.get(session=session, subscription_id=subscription_id)
    if subscription is None:
        raise NotFound(f"There is no webhook subscription {subscription_id}.")
    return subscription


def _values(subscription: OutboundSubscription) -> dict[str, str]:
    values = form_values(subscription, (*FIELDS, ACTIVE))
    for event in EventType:
        values[f"event_{event.value}"] = "on" if event.value in subscription.events else ""
    return values


def _input(values: dict[str, str]) -> dict[str, object]:
    data = to_input(FIELDS, values)
    data["events"] = [e.value for e in EventType if values.get(f"event_{e.value}") == "on"]
    return data


def _form_page(
    request: Request,
    principal: Principal,
    session: Session,
    *,
    subscription: OutboundSubscription | None,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    page: int = 1,
    secret: str | None = None,
    status_code: int = 200,
) -> Response:
    """The form, with the subscription's delivery log (and its secret, shown this once)."""
    log: dict[str, object] = {}
    if subscription is not None:
        deliveries, count = outbound_service.list_deliveries(
            session=session,
            subscription_id=subscription.id or 0,
            limit=PAGE_SIZE,
            offset=offset(page),
        )
        log = {"deliveries": deliveries, "paging": Pager(FORM.url(subscription), page, count)}
    response = FORM.show(
        request, principal, session, record=subscription, values=values, errors=errors,
        status_code=status_code, secret=secret, **log,
    )  # fmt: skip
    if secret:
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get(BASE, include_in_schema=False)
def webhooks_page(request: Request, session: ReadSessionDep, principal: Manager) -> Response:
    """Every subscription: URL, events, active, what its deliveries are waiting on."""
    rows, _ = outbound_service.list_subscriptions(session=session, limit=500)
    context = {"page": "settings", "rows": rows}
    return render(request, "settings_webhooks.html", context, principal=principal)


@router.get(f"{BASE}/new", include_in_schema=False)
def new_webhook_page(request: Request, session: ReadSessionDep, principal: Manager) -> Response:
    """The form for a new subscription."""
    return _form_page(request, principal, session, subscription=None, values={})


@router.post(BASE, include_in_schema=False, dependencies=[CsrfChecked])
async def create_webhook(request: Request, session: SessionDep, principal: Manager) -> Response:
    """Add a subscription; the answer shows its secret, this once."""
    created = await submit(
        request, session, (*FIELDS, *EVENT_FIELDS),
        lambda values: outbound_service.create(
            session=session, subscription_in=SubscriptionCreate.model_validate(_input(values)),
            actor=principal.actor(Source.PAGE),
        ),
    )  # fmt: skip
    if isinstance(created, Refused):
        return _form_page(
            request, principal, session, subscription=None, values=created.values,
            errors=created.errors, status_code=created.status,
        )  # fmt: skip
    return _form_page(
        request, principal, session, subscription=created, values=_values(created),
        secret=created.secret,
    )  # fmt: skip


@router.get(f"{BASE}/{{subscription_id}}", include_in_schema=False)
def webhook_page(
    request: Request,
    subscription_id: int,
    session: ReadSessionDep,
    principal: Manager,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> Response:
    """One subscription: its form, its delivery log (replay), rotate and deactivate."""
    subscription = _subscription(session, subscription_id)
    return _form_page(
        request, principal, session, subscription=subscription,
        values=_values(subscription), page=page,
    )  # fmt: skip


@router.post(f"{BASE}/{{subscription_id}}", include_in_schema=False, dependencies=[CsrfChecked])
async def update_webhook(
    request: Request,
    subscription_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: Manager,
) -> Response:
    """Save the edited URL, description, events and active flag."""
    subscription = _subscription(session, subscription_id)

    def save(values: dict[str, str]) -> None:
        data = _input(values) | {"active": values.get("active") == "on"}
        SubscriptionCreate.model_validate(data)  # errors by field
        outbound_service.update(
            session=session,
            subscription=subscription,
            changes=SubscriptionUpdate.model_validate(data),
            actor=principal.actor(Source.PAGE),
        )

    saved = await submit(request, session, (*FIELDS, *EVENT_FIELDS, ACTIVE), save)
    if isinstance(saved, Refused):
        return _form_page(
            request, principal, session, subscription=subscription, values=saved.values,
            errors=saved.errors, status_code=saved.status,
        )  # fmt: skip
    return flash_redirect(request, web, FORM.url(subscription), "Webhook saved.")


@router.post(
    f"{BASE}/{{subscription_id}}/rotate-secret",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
def rotate_webhook_secret(
    request: Request, subscription_id: int, session: SessionDep, principal: Manager
) -> Response:
    """A new secret, shown on the answer only; from now on every attempt is signed with it."""
    subscription = outbound_service.rotate_secret(
        session=session,
        subscription=_subscription(session, subscription_id),
        actor=principal.actor(Source.PAGE),
    )
    return _form_page(
        request, principal, session, subscription=subscription,
        values=_values(subscription), secret=subscription.secret,
    )  # fmt: skip


@router.get(f"{BASE}/{{subscription_id}}/deactivate", include_in_schema=False)
def confirm_deactivate(
    request: Request, subscription_id: int, session: ReadSessionDep, principal: Manager
) -> Response:
    """Deactivating stops the deliveries: ask for confirmation and the reason first."""
    subscription = _subscription(session, subscription_id)
    context = {
        "title": f"Deactivate the webhook to {subscription.url}?",
        "message": (
            "Nothing more is sent to it; deliveries still waiting stay in its log and go out if "
            "it is made active again."
        ),
        "action": f"{BASE}/{subscription_id}/deactivate",
        "fields": {},
        "reason_label": "Why",
        "reason_field": "reason",
        "button": "Deactivate",
        "back": f"{BASE}/{subscription_id}",
    }
    return render(request, "confirm.html", context, principal=principal)


@router.post(
    f"{BASE}/{{subscription_id}}/deactivate",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
def deactivate_webhook(
    request: Request,
    subscription_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: Manager,
    reason: Annotated[str, Form(max_length=500)] = "",
    confirmed: Annotated[str, Form(max_length=3)] = "",
) -> Response:
    """Deactivate once confirmed (the confirmation page asks first)."""
    back = f"{BASE}/{subscription_id}"
    if confirmed != "yes":
        return RedirectResponse(f"{back}/deactivate", status_code=303)
    outbound_service.deactivate(
        session=session,
        subscription=_subscription(session, subscription_id),
        actor=principal.actor(Source.PAGE),
        reason=reason.strip() or None,
    )
    return flash_redirect(request, web, back, "Webhook deactivated.")


@router.post(
    f"{BASE}/{{subscription_id}}/deliveries/{{delivery_id}}/replay",
    include_in_schema=False,
    dependencies=[CsrfChecked],
)
def replay_webhook_delivery(
    request: Request,
    subscription_id: int,
    delivery_id: int,
    session: SessionDep,
    web: WebSessionDep,
    principal: Manager,
) -> Response:
    """Send the delivery's event again now."""
    delivery = outbound_service.get_delivery(session=session, delivery_id=delivery_id)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise NotFound(f"There is no delivery {delivery_id} of this webhook.")
    outbound_service.replay(session=session, delivery=delivery, actor=principal.actor(Source.PAGE))
    return flash_redirect(
        request, web, f"{BASE}/{subscription_id}", "Delivery queued to be sent again."
    )
