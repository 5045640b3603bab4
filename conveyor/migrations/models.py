"""Every table module, imported so its tables are on SQLModel.metadata (Alembic, tests)."""

import conveyor.customer.models  # noqa: F401
import conveyor.employee.models  # noqa: F401
import conveyor.inventory.models  # noqa: F401
import conveyor.invoice.models  # noqa: F401
import conveyor.notification.models  # noqa: F401
import conveyor.order.models  # noqa: F401
import conveyor.pricing.models  # noqa: F401
import conveyor.purchasing.models  # noqa: F401
import conveyor.returns.models  # noqa: F401
import conveyor.support.models  # noqa: F401
import conveyor.task.models  # noqa: F401
import conveyor.webhook.models  # noqa: F401
