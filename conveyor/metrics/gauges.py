"""The worker's metrics endpoint: a Temporal runtime serving Prometheus, and Conveyor's gauges.

The gauges live on the runtime's own meter, so one port serves the SDK's metrics (task slots,
poll and schedule latencies, activity failures) and the business counts. They are counted every
`worker_metrics_interval_seconds`, never per scrape.
"""

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import Engine
from temporalio.client import Client
from temporalio.common import MetricGauge, MetricMeter
from temporalio.plugin import SimplePlugin
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.metrics import service as metrics_service

log = logging.getLogger(__name__)


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting Prometheus on the worker metrics port; None when it is 0."""
    if not settings.worker_metrics_port:
        return None
    address = f"{settings.worker_metrics_host}:{settings.worker_metrics_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))


class BusinessGauges:
    """Conveyor's gauges on a Temporal metric meter."""

    def __init__(self, meter: MetricMeter) -> None:
        def gauge(name: str, description: str) -> MetricGauge:
            return meter.create_gauge(f"conveyor_{name}", description)

        self.orders = gauge("orders", "orders by status")
        self.tasks_open = gauge("tasks_open", "open tasks")
        self.tasks_overdue = gauge("tasks_overdue", "open tasks past their due time")
        self.outbox_pending = gauge("outbox_pending", "mail not yet accepted by the relay")
        self.outbound_pending = gauge("outbound_pending", "outbound webhooks not yet delivered")
        self.outbound = gauge("outbound_deliveries", "outbound webhook deliveries by status")
        self.webhooks = gauge("webhook_deliveries", "inbound webhook deliveries by outcome")

    def update(self, engine: Engine) -> None:
        """Count again and set every gauge."""
        with session_scope(engine) as session:
            counts = metrics_service.count(session=session, now=utcnow())
        for status, n in counts.orders.items():
            self.orders.set(n, {"status": status})
        self.tasks_open.set(counts.tasks_open)
        self.tasks_overdue.set(counts.tasks_overdue)
        self.outbox_pending.set(counts.outbox_pending)
        self.outbound_pending.set(counts.outbound.get("pending", 0))
        for status, n in counts.outbound.items():
            self.outbound.set(n, {"status": status})
        for outcome, n in counts.webhooks.items():
            self.webhooks.set(n, {"outcome": outcome})


def gauges_plugin(client: Client, engine: Engine, settings: Settings) -> SimplePlugin | None:
    """A worker plugin counting the gauges while the worker runs; None when metrics are off or
    the client's runtime exports none (it was connected without `metrics_runtime`)."""
    runtime = client.service_client.config.runtime
    if not settings.worker_metrics_port or runtime is None:
        return None
    gauges = BusinessGauges(runtime.metric_meter)

    async def keep_counting() -> None:
        while True:
            try:
                await asyncio.to_thread(gauges.update, engine)
            except Exception:  # a busy or absent database only skips a round
                log.warning("business gauges not counted", exc_info=True)
            await asyncio.sleep(settings.worker_metrics_interval_seconds)

    @asynccontextmanager
    async def counting() -> AsyncIterator[None]:
        task = asyncio.create_task(keep_counting())
        try:
            yield
        finally:
            task.cancel()

    return SimplePlugin("conveyor.business-gauges", run_context=counting)
