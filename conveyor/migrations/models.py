"""Every table module, imported so its tables are on SQLModel.metadata (Alembic, tests)."""

import conveyor.accounting.models
import conveyor.audit.models
import conveyor.auth.models
import conveyor.customer.models
import conveyor.employee.models
import conveyor.inventory.models
import conveyor.invoice.models
import conveyor.notification.models
import conveyor.opportunity.models
import conveyor.order.models
import conveyor.outbound.models
import conveyor.pos.models
import conveyor.pricing.models
import conveyor.purchasing.invoice_models
import conveyor.purchasing.models
import conveyor.returns.models
import conveyor.shipping.models
import conveyor.shop.models
import conveyor.storefeedback.models
import conveyor.support.models
import conveyor.task.models
import conveyor.terms.models
import conveyor.webhook.models  # noqa: F401
