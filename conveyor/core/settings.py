"""Conveyor settings, read once from `CONVEYOR_*` environment variables."""

from decimal import Decimal
from email.utils import formataddr
from importlib.resources import files
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, computed_field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every tunable of Conveyor; env `CONVEYOR_<NAME>` sets `settings.<name>`."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_", env_file=".env", extra="ignore")

    environment: str = "development"
    data_dir: Path = Path(".data")
    database_url: str | None = None
    # How long a write on SQLite waits for another writer's lock before it gives up: the API then
    # answers 503 (the database is busy), an activity fails and Temporal retries it.
    sqlite_busy_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_ui_port: int = 8233
    task_queue: str = "conveyor"
    http_host: str = "127.0.0.1"
    http_port: int = 8000
    admin_token: str | None = None
    # Signs the pages' session cookies; unset, a random key is kept in `data_dir/session-secret`
    # (set it when API processes do not share a data folder, so a sign-in works on every one).
    session_secret: SecretStr | None = None
    # The session cookie's `Secure` flag; unset: on everywhere but in development (and always
    # on in production, whatever this says).
    session_cookie_secure: bool | None = None
    # Request bodies above these sizes are refused with 413 (on Content-Length and while
    # streaming); webhooks have their own limit.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_webhook_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    # Sign-in throttling (pages): after this many failures in a row an account, or a client
    # address, waits `login_backoff_seconds`, doubling with each further failure up to the max;
    # failures are forgotten `login_failure_window_seconds` after the last one.
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_backoff_seconds: float = Field(default=1.0, gt=0)
    login_backoff_max_seconds: float = Field(default=900.0, gt=0)
    login_failure_window_seconds: float = Field(default=3600.0, gt=0)
    # Password hashes computed at once per process (each costs a few hundred ms of one core).
    password_hash_concurrency: int = Field(default=2, ge=1)
    # Employee bearer tokens issued without an explicit lifetime expire after this many days
    # (unset: they work until revoked).
    token_ttl_days: int | None = Field(default=None, ge=1, le=3650)
    # A set-password link sent to a customer works once, for this many hours.
    password_link_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    mail_from: str = "conveyor@localhost"
    # `conveyor dev` runs a local SMTP sink on smtp_host:smtp_port; off when using a real relay.
    dev_mail_sink: bool = True
    # The outbox dispatcher: how often it looks for pending mail when it found none, and the
    # longest wait between two attempts at one message while the relay refuses it (doubling
    # from 2 s).
    outbox_poll_seconds: float = Field(default=0.5, gt=0)
    outbox_retry_max_seconds: float = Field(default=300.0, ge=1)
    # Outbound webhooks (conveyor/outbound): how often the dispatcher looks for due deliveries,
    # how long one POST may take, the backoff between attempts (doubling from the first wait up
    # to the max) and how long a delivery is retried before it counts as failed.
    outbound_poll_seconds: float = Field(default=0.5, gt=0)
    outbound_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    outbound_first_retry_seconds: float = Field(default=10.0, gt=0)
    outbound_retry_max_seconds: float = Field(default=3600.0, ge=1)
    outbound_retry_hours: float = Field(default=72.0, gt=0, le=24 * 30)
    # Delivered outbound webhooks (and events with nothing left to deliver) and store feedback
    # the store took are deleted this long after; the dispatcher purges at each drain's start.
    outbound_retention_seconds: float = Field(default=30 * 86400.0, gt=0)
    # Links in e-mails point here; defaults to the API's own address.
    public_base_url: str | None = None
    default_currency: str = "USD"
    # The seller on invoices, pick lists, packing slips and quotes (core/pdf.py): the address
    # and bank details print one line per newline (or per ";").
    company_name: str = Field(default="Conveyor Demo Ltd", min_length=1, max_length=200)
    company_address: str = Field(default="", max_length=1000)
    company_tax_id: str = Field(default="", max_length=100)
    company_bank_details: str = Field(default="", max_length=1000)
    company_email: str = Field(default="", max_length=320)
    # Order numbers are `<prefix>-000123`; the workflow id is `order-<number>`.
    order_number_prefix: str = Field(default="SO", pattern=r"^[A-Z0-9]{1,8}$")
    rules_dir: Path = Path(str(files("routing_rules") / "rules"))
    # Webhooks (webhook/connections.py): one secret per provider is the simplest setup; the
    # secrets file (JSON or YAML) adds several stores and secret rotation. Never logged. A
    # store in the file with `api_url` and its credentials (`api_token` for Shopify,
    # `consumer_key` and `consumer_secret` for WooCommerce) is told of its orders' shipments and
    # cancellations (store feedback), retried like outbound webhooks (the outbound_* settings).
    shopify_secret: SecretStr | None = None
    woocommerce_secret: SecretStr | None = None
    stripe_secret: SecretStr | None = None
    webhook_secrets_file: Path | None = None
    stripe_tolerance_seconds: int = Field(default=300, ge=1)
    # Refused webhook deliveries (bad or missing signature, too old, WooCommerce pings) keep
    # metadata only, no body. A client address may leave this many in the window; beyond it
    # they are answered 429 with Retry-After and nothing is written.
    webhook_refused_limit: int = Field(default=30, ge=1)
    webhook_refused_window_seconds: float = Field(default=3600.0, gt=0)
    # The API's purge (every `webhook_purge_interval_seconds`) deletes refused deliveries after
    # `webhook_refused_retention_seconds`; signed deliveries that are settled (processed,
    # duplicate, ignored, malformed) after `webhook_retention_seconds` (unset: kept). Those a
    # person still has to look at (unmatched, needs_review, failed, received) stay.
    webhook_refused_retention_seconds: float = Field(default=7 * 86400.0, gt=0)
    webhook_retention_seconds: float | None = Field(default=None, gt=0)
    webhook_purge_interval_seconds: float = Field(default=3600.0, gt=0)
    # A store delivery triggered longer ago than this is refused as a replay (Shopify
    # `X-Shopify-Triggered-At`, WooCommerce the signed `date_modified_gmt`). Longer than the
    # stores' retry periods (Shopify retries for up to 48 hours).
    webhook_max_age_seconds: float = Field(default=48 * 3600.0, gt=0)
    # Shipments: the tracking page of each carrier, `{tracking}` standing for the number (JSON
    # in the environment), e.g. CONVEYOR_CARRIER_TRACKING_URLS='{"dhl":
    # "https://www.dhl.com/track?id={tracking}", "ups":
    # "https://www.ups.com/track?tracknum={tracking}"}'. Carrier names are matched lower-case;
    # a shipment of another carrier keeps the tracking URL staff give it (or none).
    carrier_tracking_urls: dict[str, str] = {}
    # Carrier delivery events (POST /webhooks/carrier) are signed with this secret:
    # `X-Carrier-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (as Stripe
    # signs), refused beyond `carrier_tolerance_seconds`. Unset: the endpoint refuses everything.
    carrier_webhook_secret: SecretStr | None = None
    carrier_tolerance_seconds: int = Field(default=300, ge=1)
    # A drop-ship purchase order's mail carries a link the supplier confirms the shipment with
    # (no account): signed with the session secret, good for this long (default 30 days).
    supplier_link_validity_seconds: float = Field(default=30 * 86400.0, gt=0)
    # Durations (seconds) that the workflow uses; tests shorten them.
    backorder_recheck_seconds: float = 86400.0  # the safety recheck of a long wait: daily
    activity_timeout_seconds: float = 30.0
    quote_validity_seconds: float = 14 * 24 * 3600.0
    # The customer is reminded this long before a quote expires (half-way for shorter quotes).
    quote_reminder_before_seconds: float = 2 * 24 * 3600.0
    # Accounting export: a YAML account mapping (accounting/mapping.py); built-in defaults if unset.
    accounting_map_file: Path | None = None
    # Payment reminders after the invoice (seconds; JSON list in the environment): 7/14/30 days.
    dunning_schedule_seconds: list[float] = [7 * 86400.0, 14 * 86400.0, 30 * 86400.0]
    # Stock: the warehouse that takes receipts without one and is tried first when committing.
    default_warehouse: str = Field(default="MAIN", pattern=r"^[A-Z0-9][A-Z0-9_-]{0,15}$")
    # Set (e.g. `STAGE-01`): picking moves the goods from their bins to this staging location.
    staging_location: str | None = Field(default=None, min_length=1, max_length=32)
    # The stock list flags a SKU low in a warehouse at or below this (unless it has its own
    # reorder level there).
    low_stock_level: int = Field(default=5, ge=0)
    # Purchase order receipts: a line may be received up to this percent above its ordered
    # quantity (more is refused), and counts as fully received this percent below it.
    receipt_tolerance_percent: Decimal = Field(default=Decimal("5"), ge=0, le=100)
    # Supplier invoices: each line's quantity (against received and ordered) and unit price
    # (against the purchase order's) may differ this percent before the invoice is held.
    invoice_match_tolerance_percent: Decimal = Field(default=Decimal("2"), ge=0, le=100)
    # Returns: a credit note (and so a refund) above this amount waits for an accountant's
    # approval task before it is issued.
    refund_approval_above: Decimal = Field(default=Decimal("500.00"), ge=0)
    # Heavy requests: the longest date range a report covers, and how long the monitor's
    # Temporal listing is shared between refreshes (seconds; 0: no sharing).
    report_max_days: int = Field(default=366, ge=1)
    monitor_cache_seconds: float = Field(default=5.0, ge=0)
    # Logs: `text` (the default) or `json`, one object per line with time, level, logger and
    # message, plus the order number and workflow id inside an order's activities and workflow
    # and the method and path inside an API request (conveyor/core/logs.py).
    log_format: Literal["text", "json"] = "text"
    # The worker's Prometheus endpoint (`http://<host>:<port>/metrics`, no authentication: bind
    # it where only the scraper reaches): the Temporal SDK's metrics and Conveyor's gauges
    # (orders by status, tasks open and overdue, mail and webhook backlogs), counted every
    # `worker_metrics_interval_seconds`. Port 0: off. The API's metrics are at its `/metrics`.
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_interval_seconds: float = Field(default=15.0, gt=0)
    # Graceful shutdown: on SIGTERM the worker stops taking tasks and gives its running
    # activities this long to finish (then cancels them), the API stops accepting connections
    # and gives the requests in flight this long; `conveyor dev` waits this long (and a few
    # seconds more) for its children before it kills them.
    shutdown_grace_seconds: float = Field(default=30.0, ge=0, le=3600)

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str | None) -> str | None:
        """Accept the usual `postgres://` spellings and pick the psycopg 3 driver."""
        if value is None:
            return None
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("admin_token")
    @classmethod
    def _refuse_weak_token(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("CONVEYOR_ADMIN_TOKEN must be at least 16 characters")
        return value

    @computed_field  # type: ignore[prop-decorator]
    @property
    def effective_database_url(self) -> str:
        """The database URL in force: the configured one or SQLite in the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'conveyor.db').resolve()}"

    @property
    def mail_sink_dir(self) -> Path:
        """Where `conveyor dev`'s SMTP sink keeps the mail it receives (one .eml a message)."""
        return self.data_dir / "mail"

    @property
    def sender(self) -> str:
        """The e-mails' From: the company's name and `mail_from` (kept when it names itself)."""
        if "<" in self.mail_from:
            return self.mail_from
        return formataddr((self.company_name, self.mail_from))

    @property
    def public_url(self) -> str:
        """The address people open Conveyor at, without a trailing slash."""
        return (self.public_base_url or f"http://{self.http_host}:{self.http_port}").rstrip("/")

    @property
    def is_development(self) -> bool:
        """True in development (the default), where HTTP is plain and errors are detailed."""
        return self.environment == "development"

    @property
    def secure_cookies(self) -> bool:
        """Whether the session cookie carries `Secure` (HTTPS only)."""
        if self.environment == "production" or self.session_cookie_secure is None:
            return not self.is_development
        return self.session_cookie_secure

    @property
    def is_sqlite(self) -> bool:
        """True when the business data lives in SQLite."""
        return self.effective_database_url.startswith("sqlite")


settings = Settings()
