"""The versions of SalesOrderWorkflow: one `workflow.patched` id per change, oldest first.

Every change to the order workflow's commands goes behind a new id here; histories recorded with
each version live in tests/workflows/histories/ (`v<N>_*.json`) and replay in the tests.
v1 is the first version (no patch id).
"""

# v2 added e-mail notifications, SLA reminders/escalation and the Assignee search attribute.
PATCH_NOTIFY_AND_SLA = "notifications-and-sla-v2"
# v3 sends payment reminders (dunning) on a schedule while collection waits.
PATCH_DUNNING = "dunning-v3"
# v4 mails quotes, reminds before they expire and voids sibling quotes on acceptance.
PATCH_QUOTES = "quotes-v4"
# v5 ships partially: what is in stock goes now, the rest follows in later shipments.
PATCH_PARTIAL = "partial-shipments-v5"
# v6 sends purchase orders for drop-ship lines and invoices once the suppliers shipped.
PATCH_DROP_SHIP = "drop-ship-v6"
# v7 tells the customer when the order is amended or cancelled.
PATCH_CHANGE_NOTICES = "change-notices-v7"
