"""Purchasing: purchase orders to suppliers for drop-ship lines."""
