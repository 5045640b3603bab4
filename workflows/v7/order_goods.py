"""The order's goods and money: stock, shipments, suppliers, invoices, collection."""

from datetime import timedelta
from decimal import Decimal

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.order_activities import OrderActivities
    from activities.purchasing_activities import PurchasingActivities
    from activities.stock_activities import StockActivities
    from workflows.types import (
        InvoiceResult,
        OrderPlan,
        PurchaseOrdersResult,
        ShipmentInput,
    )


from workflows.v7.order_plumbing import OrderPlumbing
from workflows.v7.versions import PATCH_DUNNING


class OrderGoods(OrderPlumbing):
    """The order's goods and money: stock, shipments, suppliers, invoices, collection."""

    async def _do_shipment_work(self, step: str) -> None:
        n = self._shipment
        if step == "stock_check":
            while True:  # some of it in stock (or nothing left for stock: drop-ship only)
                check = await self._call(StockActivities.check_stock, self._ref())
                if check.available or check.some_available:
                    break
                await self._wait_for_stock(check.shortages)
            await self._mark_open_again()
        elif step == "allocation":
            while True:
                result = await self._call(StockActivities.allocate_shipment, self._shipment_ref())
                if result.lines or result.remaining == 0:
                    break
                await self._wait_for_stock(result.shortages)
            self._stock_committed = True
            self._units_to_allocate = result.remaining
            if n == 1:
                await self._order_from_suppliers()
            await self._mark_open_again()
            later = f"; {result.remaining} units to follow" if result.remaining else ""
            await self._progress("allocated", f"shipment {n}: stock committed{later}", step=step)
        elif step == "packing":
            await self._call(StockActivities.pack_shipment, self._shipment_ref())
            self._packed_any = True
            await self._progress("packed", f"shipment {n} packed; on-hand deducted", step=step)
            self._notify("order_shipped", "shipped" if n == 1 else f"shipped:s{n}")
        elif step == "invoicing":
            if self._units_to_allocate == 0:
                await self._wait_for_suppliers()
            invoice = await self._call(
                OrderActivities.create_shipment_invoice,
                ShipmentInput(self._number(), n, last=self._units_to_allocate == 0),
            )
            await self._invoiced(invoice, f"shipment {n}: ")

    async def _order_from_suppliers(self) -> None:
        """Drop-ship lines: a purchase order per supplier, mailed to the supplier (v6)."""
        if not self._drop_ship or self._purchase_orders:
            return
        sent: PurchaseOrdersResult = await self._call(
            PurchasingActivities.create_purchase_orders, self._keyed("po")
        )
        self._purchase_orders = sent.numbers
        for number, supplier in zip(sent.numbers, sent.suppliers, strict=True):
            await self._progress("purchase_order", f"purchase order {number} sent to {supplier}")
            self._notify(
                "purchase_order",
                f"po:{number}",
                extra={"purchase_order_number": number, "supplier_email": supplier},
            )

    async def _wait_for_suppliers(self) -> None:
        """Drop-ship lines are invoiced once every supplier confirmed its shipment."""
        if not self._purchase_orders:
            return
        assert self._input is not None
        while True:
            seen = self._supplier_signals
            still_open = await self._call(
                PurchasingActivities.count_open_purchase_orders, self._ref()
            )
            if still_open == 0:
                break

            # A def, not a lambda with a default: mypy cannot type the latter.
            def shipped_or_cancelled(seen: int = seen) -> bool:
                return self._supplier_signals > seen or self._cancel is not None

            try:
                await workflow.wait_condition(
                    shipped_or_cancelled,
                    timeout=timedelta(seconds=self._input.backorder_recheck_seconds),
                )
            except TimeoutError:
                pass  # periodic recheck: a lost signal never strands an order
            self._raise_if_cancelled()
        await self._progress("supplier_shipped", "the suppliers shipped the drop-ship lines")

    async def _invoiced(self, invoice: InvoiceResult, prefix: str = "") -> None:
        self._invoiced_at = workflow.now()
        await self._progress(
            "invoiced", f"{prefix}invoice {invoice.number} for {invoice.total}", step="invoicing"
        )
        self._notify(
            "invoice_issued",
            f"invoice:{invoice.number}",
            extra={"invoice_number": invoice.number, "invoice_total": str(invoice.total)},
        )

    async def _wait_until_stock_available(self) -> None:
        while True:
            check = await self._call(StockActivities.check_stock, self._ref())
            if check.available:
                break
            await self._wait_for_stock(check.shortages)
        await self._mark_open_again()

    async def _allocate(self) -> None:
        while True:
            result = await self._call(StockActivities.allocate_stock, self._keyed("commit"))
            if result.committed:
                self._stock_committed = True
                break
            await self._wait_for_stock(result.shortages)
        await self._mark_open_again()
        await self._progress("allocated", "stock committed", step="allocation")

    async def _wait_for_stock(self, shortages: list[str]) -> None:
        if self._status != "backordered":
            self._status = "backordered"
            await self._progress(
                "backordered", "waiting for stock: " + ", ".join(shortages), status="backordered"
            )
        seen = self._stock_signals
        assert self._input is not None
        try:
            await workflow.wait_condition(
                lambda: self._stock_signals > seen or self._cancel is not None,
                timeout=timedelta(seconds=self._input.backorder_recheck_seconds),
            )
        except TimeoutError:
            pass  # periodic recheck: a lost signal never strands an order
        self._raise_if_cancelled()

    async def _mark_open_again(self) -> None:
        if self._status == "backordered":
            self._status = "open"
            await self._progress("stock_available", "stock available again", status="open")

    async def _collect(self, plan: OrderPlan) -> None:
        if plan.prepaid:
            await self._call(OrderActivities.record_prepayment, self._keyed("prepayment"))
        assert self._input is not None
        while True:
            seen = self._payment_signals
            status = await self._call(OrderActivities.check_payment, self._ref())
            if status.settled:
                over = -status.due
                extra = f"; overpaid by {over}, a credit for the customer" if over > 0 else ""
                await self._progress("paid", f"paid {status.paid} of {status.invoiced}{extra}")
                self._notify("payment_received", "paid", extra={"amount": str(status.paid)})
                return
            wait = self._input.backorder_recheck_seconds
            reminder_due = self._next_reminder_in()
            if reminder_due is not None:
                wait = min(wait, reminder_due)

            def paid_since(seen: int = seen) -> bool:
                return self._payment_signals > seen

            try:
                await workflow.wait_condition(
                    paid_since,
                    timeout=timedelta(seconds=max(wait, 0.001)),
                )
            except TimeoutError:
                pass
            if self._next_reminder_in() == 0:
                await self._send_payment_reminder(status.due)

    def _next_reminder_in(self) -> float | None:
        """Seconds until the next payment reminder is due (0: now), None when none is left."""
        assert self._input is not None
        schedule = self._input.dunning_schedule_seconds
        if self._invoiced_at is None or self._reminders_sent >= len(schedule):
            return None
        if not workflow.patched(PATCH_DUNNING):
            return None
        since_invoice = (workflow.now() - self._invoiced_at).total_seconds()
        return max(schedule[self._reminders_sent] - since_invoice, 0.0)

    async def _send_payment_reminder(self, amount_due: Decimal) -> None:
        self._reminders_sent += 1
        n = self._reminders_sent
        await self._progress(
            "payment_reminder", f"payment reminder {n}: {amount_due} still due", step="collection"
        )
        self._notify(
            "payment_overdue",
            f"dunning:{n}",
            extra={"amount_due": str(amount_due), "reminder": str(n)},
        )
