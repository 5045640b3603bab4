"""Outbound webhooks: subscriptions of other systems, the events they hear of, their deliveries."""
