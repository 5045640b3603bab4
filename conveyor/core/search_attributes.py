"""Search attributes Conveyor registers on Temporal and sets on order workflows."""

from temporalio.common import SearchAttributeKey

ORDER_NUMBER = SearchAttributeKey.for_keyword("OrderNumber")
ORDER_STEP = SearchAttributeKey.for_keyword("OrderStep")
ORDER_CHANNEL = SearchAttributeKey.for_keyword("OrderChannel")
ASSIGNEE = SearchAttributeKey.for_keyword("Assignee")

ALL_KEYS = (ORDER_NUMBER, ORDER_STEP, ORDER_CHANNEL, ASSIGNEE)
