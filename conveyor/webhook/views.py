"""Webhook endpoints (`/webhooks/...`, signed by the provider) and the delivery log (admin)."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse

from api.deps import Principal, ReadSessionDep, StateDep, require
from conveyor.audit.models import Source
from conveyor.auth.permissions import Permission
from conveyor.webhook import flows as webhook_flows
from conveyor.webhook import service as webhook_service
from conveyor.webhook.models import (
    DeliveriesPublic,
    DeliveryPublic,
    DeliverySummary,
    Outcome,
    WebhookAck,
)

# Receiving: no bearer token; the provider's signature is the authentication.
router = APIRouter()
# Reviewing: mounted under /api/webhook-deliveries.
deliveries_router = APIRouter()
MAX_BODY_BYTES = 5 * 1024 * 1024
ANSWERS = {
    200: {"model": WebhookAck, "description": "recorded (see `outcome`), or a duplicate"},
    400: {"model": WebhookAck, "description": "malformed body (recorded)"},
    401: {
        "model": WebhookAck,
        "description": "missing or wrong signature, or triggered too long ago (noted, no body)",
    },
    429: {"description": "too many refused deliveries from this address (nothing recorded)"},
}


async def _receive(provider: str, request: Request, state: StateDep) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "body too large")
    headers = {k.lower(): v for k, v in request.headers.items()}
    answer = await webhook_flows.receive(
        state,
        provider=provider,
        headers=headers,
        body=body,
        source=request.client.host if request.client else None,
    )
    if answer.retry_after is not None:
        return JSONResponse(
            {"detail": answer.ack.detail},
            status_code=answer.status,
            headers={"Retry-After": str(answer.retry_after)},
        )
    return JSONResponse(answer.ack.model_dump(mode="json"), status_code=answer.status)


@router.post("/shopify", responses=ANSWERS)
async def shopify_webhook(request: Request, state: StateDep) -> JSONResponse:
    """Shopify `orders/create`, `orders/updated`, `orders/cancelled` (X-Shopify-Hmac-Sha256)."""
    return await _receive("shopify", request, state)


@router.post("/woocommerce", responses=ANSWERS)
async def woocommerce_webhook(request: Request, state: StateDep) -> JSONResponse:
    """WooCommerce `order.created`, `order.updated`, `order.deleted` (X-WC-Webhook-Signature)."""
    return await _receive("woocommerce", request, state)


@router.post("/stripe", responses=ANSWERS)
async def stripe_webhook(request: Request, state: StateDep) -> JSONResponse:
    """Stripe `payment_intent.succeeded`, `checkout.session.completed`, `charge.refunded`."""
    return await _receive("stripe", request, state)


@deliveries_router.get("", response_model=DeliveriesPublic)
def list_deliveries(
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.WEBHOOKS_MANAGE)],
    provider: Annotated[str | None, Query(max_length=16)] = None,
    outcome: Outcome | None = None,
    store: Annotated[str | None, Query(max_length=40)] = None,
    order_number: Annotated[str | None, Query(max_length=32)] = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveriesPublic:
    """Deliveries newest first, with their outcome; `outcome=unmatched` lists what to review."""
    rows, count = webhook_service.list_deliveries(
        session=session,
        provider=provider,
        outcome=outcome,
        store=store,
        order_number=order_number,
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    return DeliveriesPublic(
        data=[DeliverySummary.model_validate(d) for d in rows],
        count=count,
        page=page,
        page_size=page_size,
    )


@deliveries_router.get("/{delivery_id}", response_model=DeliveryPublic)
def read_delivery(
    delivery_id: int,
    session: ReadSessionDep,
    _: Annotated[Principal, require(Permission.WEBHOOKS_MANAGE)],
) -> DeliveryPublic:
    """One delivery with its (signature-free) headers and raw body."""
    delivery = webhook_service.get(session=session, delivery_id=delivery_id)
    if delivery is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"delivery {delivery_id} not found")
    return DeliveryPublic.model_validate(webhook_service.as_dict(delivery))


@deliveries_router.post("/{delivery_id}/replay", response_model=WebhookAck)
async def replay_delivery(
    delivery_id: int,
    state: StateDep,
    principal: Annotated[Principal, require(Permission.WEBHOOKS_MANAGE)],
) -> WebhookAck:
    """Act on a stored delivery again (after fixing a SKU, adding a store, ...); idempotent."""
    try:
        answer = await webhook_flows.replay(
            state, delivery_id=delivery_id, actor=principal.actor(Source.API)
        )
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except webhook_flows.ReplayRefusedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return answer.ack
