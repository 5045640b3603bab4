"""Heavy report and monitor requests are bounded: the period (a setting), the work done in the
database (aggregated, percentiles by a window function) and the Temporal calls per refresh."""

import asyncio
import random
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from conveyor.core.db import session_scope
from conveyor.core.models import utcnow
from conveyor.core.settings import Settings
from conveyor.customer.models import Customer
from conveyor.order import trail
from conveyor.order.models import SalesOrder
from conveyor.report import service as report_service
from conveyor.report import temporal as report_temporal
from tests.conftest import ADMIN_TOKEN
from tests.utils.pages import staff_client


def _reference(events: list[tuple[int, str, str, float]]) -> dict[str, list[float]]:
    """The durations the old Python pairing found: the latest start, popped by a completion."""
    started: dict[tuple[int, str], float] = {}
    samples: dict[str, list[float]] = {}
    for order_id, step, kind, at in events:
        if kind == "step_started":
            started[(order_id, step)] = at
        elif (order_id, step) in started:
            samples.setdefault(step, []).append(at - started.pop((order_id, step)))
    return samples


def test_step_durations_are_ranked_in_the_database_like_the_python_pairing(
    engine: Engine,
) -> None:
    rng = random.Random(7)
    base = utcnow() - timedelta(days=2)
    events: list[tuple[int, str, str, float]] = []
    with session_scope(engine) as session:
        customer = Customer(name="B", email="b@example.com")
        session.add(customer)
        session.flush()
        orders = []
        for i in range(12):
            order = SalesOrder(number=f"BD-{i}", channel="phone", customer_id=customer.id)
            session.add(order)
            session.flush()
            orders.append(order.id)
        # A start long before the period: its completion in the period counts, with its whole
        # duration (the trail paired them when it wrote the completion).
        old_start = base - timedelta(days=30)
        trail.write(
            session=session,
            order=session.get(SalesOrder, orders[0]),
            entries=[trail.Entry(key="bd:old", kind="step_started", step="picking", at=old_start)],
        )
        events.append((orders[0], "picking", "step_started", -30 * 86400.0))
        clock = 0.0
        for n in range(400):
            order_id = rng.choice(orders)
            step = rng.choice(["picking", "packing"])
            # Starts twice in a row, completions without a start: the pairing rules matter.
            kind = rng.choice(["step_started", "step_started", "step_completed"])
            clock += rng.randint(1, 500)
            events.append((order_id, step, kind, clock))
            # Through the trail, one entry per activity as the workflow writes them.
            trail.write(
                session=session,
                order=session.get(SalesOrder, order_id),
                entries=[
                    trail.Entry(
                        key=f"bd:{n}", kind=kind, step=step, at=base + timedelta(seconds=clock)
                    )
                ],
            )
        # A completion before the period does not count.
        trail.write(
            session=session,
            order=session.get(SalesOrder, orders[1]),
            entries=[
                trail.Entry(key="bd:s-early", kind="step_started", step="packing", at=old_start),
                trail.Entry(
                    key="bd:c-early",
                    kind="step_completed",
                    step="packing",
                    at=old_start + timedelta(seconds=5),
                ),
            ],
        )
    expected = _reference(events)
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session_scope(engine) as session:
            found = report_service.step_durations(session=session, since=base)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    by_step = {d.step: d for d in found}
    for step in ("picking", "packing"):
        values = expected[step]
        assert by_step[step].count == len(values)
        assert by_step[step].median == pytest.approx(report_service.percentile(values, 50))
        assert by_step[step].p95 == pytest.approx(report_service.percentile(values, 95))
    assert by_step["allocation"].count == 0 and by_step["allocation"].median is None
    # One statement, ranked by the database (not every event of the period fetched).
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    ranked_by = "percentile_disc" if engine.dialect.name == "postgresql" else "row_number() over"
    assert len(selects) == 1 and ranked_by in selects[0].lower()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_report_periods_beyond_the_setting_are_refused(api: httpx.AsyncClient) -> None:
    admin = await staff_client(api, ADMIN_TOKEN)
    try:
        assert (await admin.get("/reports?days=366")).status_code == 200
        for path in ("/reports?days=367", "/reports/orders.csv?days=367", "/monitor?days=367"):
            refused = await admin.get(path)
            assert refused.status_code == 422, (path, refused.text)
            assert "at most 366 days" in refused.text
        assert (await admin.get("/reports/sla.csv?days=366")).status_code == 200
    finally:
        await admin.aclose()


class TestWithSettings:
    """A shorter report period, and a monitor listing shared for a minute."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"report_max_days": 30, "monitor_cache_seconds": 60.0})

    @pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
    async def test_the_period_is_a_setting_and_monitor_refreshes_share_one_listing(
        self, api: httpx.AsyncClient
    ) -> None:
        admin = await staff_client(api, ADMIN_TOKEN)
        try:
            assert (await admin.get("/reports?days=30")).status_code == 200
            refused = await admin.get("/reports/work.csv?days=31")
            assert refused.status_code == 422 and "at most 30 days" in refused.text
            app_state = api._transport.app.state.conveyor  # type: ignore[attr-defined]
            cache = report_temporal.failing_cache(app_state, 60.0)
            before = cache.rounds
            answers = await asyncio.gather(*(admin.get("/monitor/failing") for _ in range(6)))
            assert [a.status_code for a in answers] == [200] * 6
            answers.append(await admin.get("/monitor/failing"))
            assert all("Temporal is unreachable" not in a.text for a in answers)
            # Seven refreshes, one round of describes.
            assert cache.rounds - before == 1
            cache.clear()
            assert (await admin.get("/monitor/failing")).status_code == 200
            assert cache.rounds - before == 2
        finally:
            await admin.aclose()


async def test_failing_listing_caps_describes_in_flight() -> None:
    in_flight = peak = 0

    class Handle:
        async def describe(self) -> None:
            nonlocal in_flight, peak
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            raise RuntimeError("gone")  # a workflow that is gone: nothing to show

    class FakeClient:
        def get_workflow_handle(self, workflow_id: str) -> Handle:
            return Handle()

    found = await report_temporal.failing_activities(
        FakeClient(),  # type: ignore[arg-type]
        [f"SO-{i}" for i in range(40)],
    )
    assert found == [] and peak == report_temporal.DESCRIBE_CONCURRENCY
