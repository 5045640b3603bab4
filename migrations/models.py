"""Every table module, imported so its tables are on SQLModel.metadata (Alembic, tests)."""

import customer.models  # noqa: F401
import employee.models  # noqa: F401
import inventory.models  # noqa: F401
import invoice.models  # noqa: F401
import notification.models  # noqa: F401
import order.models  # noqa: F401
import pricing.models  # noqa: F401
import purchasing.models  # noqa: F401
import returns.models  # noqa: F401
import support.models  # noqa: F401
import task.models  # noqa: F401
import webhook.models  # noqa: F401
