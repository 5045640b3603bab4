"""The names the flows use to start, signal, update and query are the ones the workflows define.

The flows never import a workflow module; they use `SalesOrderNames` and `RETURN_WORKFLOW`. A
renamed method would change what Temporal knows it by, and this test would say so.
"""

from temporalio import workflow

from workflows.return_types import RETURN_WORKFLOW
from workflows.returns import ReturnWorkflow
from workflows.types import SalesOrderNames
from workflows.v7.sales_order import SalesOrderWorkflow


def _definition(cls: type) -> workflow._Definition:
    # The SDK's own reading of the decorators (the names histories record).
    return workflow._Definition.must_from_class(cls)


def test_sales_order_names_match_the_workflow() -> None:
    definition = _definition(SalesOrderWorkflow)
    assert definition.name == SalesOrderNames.WORKFLOW
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
        SalesOrderNames.PAYMENT_RECORDED,
    }
    assert set(definition.queries) == {SalesOrderNames.PROGRESS}


def test_return_workflow_name_matches() -> None:
    assert _definition(ReturnWorkflow).name == RETURN_WORKFLOW
