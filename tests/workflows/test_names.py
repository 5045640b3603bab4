"""The names the flows use to start, signal, update and query are the ones the workflows define.

The flows never import a workflow module; they use `SalesOrderNames` and `RETURN_WORKFLOW`. A
renamed method would change what Temporal knows it by, and this test would say so.
"""

import pytest
from temporalio import workflow

from workflows.return_types import RETURN_WORKFLOW
from workflows.returns import ReturnWorkflow
from workflows.sales_order import SalesOrderWorkflow
from workflows.types import SalesOrderNames
from workflows.v7.sales_order import SalesOrderWorkflow as LegacySalesOrderWorkflow


def _definition(cls: type) -> workflow._Definition:
    # The SDK's own reading of the decorators (the names histories record).
    return workflow._Definition.must_from_class(cls)


@pytest.mark.parametrize(
    ("workflow_class", "name", "only_new"),
    [
        # v11: only SalesOrder orders have service lines (no v7 order has one to confirm).
        (SalesOrderWorkflow, SalesOrderNames.WORKFLOW, {SalesOrderNames.SERVICE_DELIVERED}),
        (LegacySalesOrderWorkflow, SalesOrderNames.LEGACY_WORKFLOW, set()),
    ],
)
def test_sales_order_names_match_the_workflow(
    workflow_class: type, name: str, only_new: set[str]
) -> None:
    # New orders run on SalesOrder (v8), older ones drain on SalesOrderWorkflow (v7): the flows
    # reach both by the same handler names.
    definition = _definition(workflow_class)
    assert definition.name == name
    assert set(definition.updates) == {
        SalesOrderNames.COMPLETE_TASK,
        SalesOrderNames.CANCEL,
        SalesOrderNames.AMEND,
    }
    assert set(definition.signals) == {
        SalesOrderNames.STOCK_ARRIVED,
        SalesOrderNames.TASK_ASSIGNED,
        SalesOrderNames.QUOTE_VOIDED,
        SalesOrderNames.SUPPLIER_SHIPPED,
        SalesOrderNames.SHIPMENT_DELIVERED,
        SalesOrderNames.PAYMENT_RECORDED,
        *only_new,
    }
    assert set(definition.queries) == {SalesOrderNames.PROGRESS}


def test_return_workflow_name_matches() -> None:
    assert _definition(ReturnWorkflow).name == RETURN_WORKFLOW
