"""Store connections: which stores may call which webhook, with which secrets (from settings)."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from conveyor.core.settings import Settings
from conveyor.order.enums import Channel

Provider = Literal["shopify", "woocommerce", "stripe"]
PROVIDERS: tuple[str, ...] = ("shopify", "woocommerce", "stripe")


class StoreSecret(BaseModel):
    """One signing secret; `not_after` ends its grace period after a rotation."""

    model_config = ConfigDict(frozen=True)

    value: SecretStr = Field(min_length=1)
    not_after: datetime | None = None

    def active(self, now: datetime) -> bool:
        """True while this secret is accepted."""
        if self.not_after is None:
            return True
        not_after = self.not_after
        if not_after.tzinfo is None:
            not_after = not_after.replace(tzinfo=UTC)
        return now <= not_after


class StoreConnection(BaseModel):
    """A store (or payment account) that sends webhooks: its kind, secrets and channel."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=40)
    kind: Provider
    secrets: tuple[StoreSecret, ...] = Field(min_length=1)
    channel: Channel = Channel.WEB
    # Shopify `X-Shopify-Shop-Domain` / WooCommerce `X-WC-Webhook-Source` host; narrows which
    # store a delivery can belong to when several stores of one kind share the endpoint.
    domain: str | None = None
    # Orders the store reports as paid are recorded as prepaid (no payment webhook expected).
    prepaid: bool = False
    # Store feedback (conveyor/storefeedback): where Conveyor reports shipments and
    # cancellations back. `api_url` is the store's base URL (https://<shop>.myshopify.com,
    # https://shop.example); Shopify takes an Admin API access token (`api_token`, sent as
    # X-Shopify-Access-Token), WooCommerce a REST API key pair (`consumer_key`,
    # `consumer_secret`, sent as HTTP Basic). Without `api_url` the store cannot be told, and
    # its orders' pages say so.
    api_url: str | None = Field(default=None, pattern=r"^https?://[^\s]+$", max_length=500)
    api_token: SecretStr | None = None
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None

    @field_validator("secrets", mode="before")
    @classmethod
    def _plain_strings(cls, value: object) -> object:
        if isinstance(value, str):
            return [{"value": value}]
        if isinstance(value, list | tuple):
            return [{"value": v} if isinstance(v, str) else v for v in value]
        return value

    def active_secrets(self, now: datetime) -> list[bytes]:
        """The secrets accepted now, newest first as configured."""
        return [s.value.get_secret_value().encode() for s in self.secrets if s.active(now)]

    def matches_domain(self, domain: str | None) -> bool:
        """False when the connection names a domain and the delivery names another."""
        if not self.domain or not domain:
            return True
        return _host(self.domain) == _host(domain)

    def __repr__(self) -> str:  # secrets stay out of logs and tracebacks
        return f"StoreConnection(name={self.name!r}, kind={self.kind!r})"


class SecretsFile(BaseModel):
    stores: list[StoreConnection] = Field(default_factory=list)


_connections = TypeAdapter(SecretsFile)
_cache: dict[tuple[int, str, float], list[StoreConnection]] = {}


def _host(domain: str) -> str:
    domain = domain.strip().lower()
    for prefix in ("https://", "http://"):
        if domain.startswith(prefix):
            domain = domain[len(prefix) :]
    return domain.split("/", 1)[0]


class ConnectionsError(Exception):
    """The secrets file cannot be read or is invalid."""


def _from_file(path: Path) -> list[StoreConnection]:
    try:
        data = yaml.safe_load(path.read_text()) or {}  # YAML reads JSON too
    except (OSError, yaml.YAMLError) as exc:
        raise ConnectionsError(f"cannot read webhook secrets file {path}: {exc}") from exc
    if isinstance(data, list):
        data = {"stores": data}
    try:
        return _connections.validate_python(data).stores
    except ValidationError as exc:
        # Name the fields only: the input values would put secrets into logs.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False)
        )
        raise ConnectionsError(f"invalid webhook secrets file {path}: {problems}") from None


def load(settings: Settings) -> list[StoreConnection]:
    """Every configured store: the secrets file's, then one per `CONVEYOR_<PROVIDER>_SECRET`.

    The file is re-read when it changes, so a rotated secret takes effect without a restart.
    """
    path = settings.webhook_secrets_file
    mtime = path.stat().st_mtime if path and path.exists() else 0.0
    key = (id(settings), str(path), mtime)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    stores = _from_file(path) if path else []
    names = {s.name for s in stores}
    for kind in PROVIDERS:
        secret: SecretStr | None = getattr(settings, f"{kind}_secret")
        if secret and secret.get_secret_value() and kind not in names:
            stores.append(
                StoreConnection(name=kind, kind=kind, secrets=(StoreSecret(value=secret),))
            )
    if len(_cache) > 64:
        _cache.clear()
    _cache[key] = stores
    return stores


def for_provider(settings: Settings, kind: str) -> list[StoreConnection]:
    """The stores of one kind."""
    return [s for s in load(settings) if s.kind == kind]


def by_name(settings: Settings, name: str | None) -> StoreConnection | None:
    """The store with that name, or None."""
    return next((s for s in load(settings) if s.name == name), None)


def now() -> datetime:
    """The current time (one place, so tests can see what the grace period compares with)."""
    return datetime.now(UTC)
