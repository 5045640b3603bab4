"""Store feedback: fulfilment and cancellations of store orders reported back to the store."""
