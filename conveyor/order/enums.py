"""Order statuses, steps and channels."""

from enum import StrEnum


class OrderStatus(StrEnum):
    QUOTE = "quote"
    OPEN = "open"
    BACKORDERED = "backordered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class Step(StrEnum):
    QUOTE = "quote"
    STOCK_CHECK = "stock_check"
    ALLOCATION = "allocation"
    PICKING = "picking"
    PACKING = "packing"
    SERVICE = "service"  # an order's service lines confirmed delivered (a task or staff)
    INVOICING = "invoicing"
    DELIVERY = "delivery"  # every shipment delivered (carrier, staff, customer, own fleet)
    COLLECTION = "collection"


STEPS: tuple[Step, ...] = tuple(Step)


class Channel(StrEnum):
    WEB = "web"
    SALES_REP = "sales_rep"
    PHONE = "phone"
    CUSTOMER_CENTER = "customer_center"
    POS = "pos"  # a counter sale: paid, picked, packed and handed over at once
