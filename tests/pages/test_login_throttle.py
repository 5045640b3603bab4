"""Sign-in throttling (per account and per address, 429 with Retry-After) and password hashing
(cost read from the stored hash, raised, rehashed on sign-in)."""

import asyncio
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from conveyor.auth.models import LoginThrottle
from conveyor.core import security
from conveyor.core.db import session_scope
from conveyor.core.settings import Settings
from conveyor.customer import service as customer_service
from conveyor.customer.models import Customer
from tests.conftest import ADMIN_TOKEN
from tests.utils.api import create_customer
from tests.utils.pages import PageClient, open_customer_account

PASSWORD = "right-password-1"
BACKOFF = 4.0
PER_ADDRESS = 8


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Five failures per account, eight per address, then a 4 s backoff (doubling); one hash
    at a time."""
    return settings.model_copy(
        update={
            "login_max_failures": 5,
            "login_max_failures_per_address": PER_ADDRESS,
            "login_backoff_seconds": BACKOFF,
            "password_hash_concurrency": 1,
        }
    )


def _throttle(engine: Engine, key: str) -> LoginThrottle | None:
    with Session(engine) as session:
        return session.exec(select(LoginThrottle).where(LoginThrottle.key == key)).first()


def _stored_hash(engine: Engine, customer_id: int) -> str:
    with Session(engine) as session:
        customer = session.get(Customer, customer_id)
        assert customer is not None and customer.password_hash
        return customer.password_hash


async def _sign_in(client: PageClient, email: str, password: str) -> httpx.Response:
    return await client.post("/login", {"kind": "customer", "email": email, "password": password})


async def test_wrong_passwords_are_throttled_and_the_right_one_waits_out_the_backoff(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    customer = await create_customer(api)
    open_customer_account(engine, customer["id"], PASSWORD)
    browser = PageClient(api)
    await browser.open()
    answers = [await _sign_in(browser, customer["email"], f"guess-{i:02d}") for i in range(50)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [401] * 5, statuses
    assert statuses[5:] == [429] * 45, statuses  # every attempt after the fifth waits
    last = answers[-1]
    assert 1 <= int(last.headers["retry-after"]) <= BACKOFF
    assert "Too many failed sign-ins" in last.text and "text/html" in last.headers["content-type"]
    # The attempts refused while locked were not checked, so they did not count (or hash).
    account = _throttle(engine, f"customer:{customer['email']}")
    assert account is not None and account.failures == 5

    # The right password is refused too until the backoff ends ...
    refused = await _sign_in(browser, customer["email"], PASSWORD)
    assert refused.status_code == 429
    await asyncio.sleep(int(refused.headers["retry-after"]) + 0.2)
    # ... then it is accepted, and the account's failures are forgotten.
    accepted = await _sign_in(browser, customer["email"], PASSWORD)
    assert accepted.status_code == 303 and accepted.headers["location"] == "/customer"
    assert _throttle(engine, f"customer:{customer['email']}") is None
    await browser.aclose()


async def test_the_backoff_doubles_after_the_threshold(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    customer = await create_customer(api)
    open_customer_account(engine, customer["id"], PASSWORD)
    browser = PageClient(api)
    await browser.open()
    for i in range(5):
        assert (await _sign_in(browser, customer["email"], f"nope-{i}")).status_code == 401
    first = _throttle(engine, f"customer:{customer['email']}")
    assert first is not None and first.locked_until is not None
    await asyncio.sleep(BACKOFF + 0.2)
    assert (await _sign_in(browser, customer["email"], "nope-again")).status_code == 401
    second = _throttle(engine, f"customer:{customer['email']}")
    assert second is not None and second.locked_until is not None
    assert second.failures == 6
    locked_for = (second.locked_until - second.last_failure_at).total_seconds()
    assert locked_for == pytest.approx(2 * BACKOFF)
    await browser.aclose()


async def test_one_address_is_throttled_across_accounts_and_staff_tokens(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    customer = await create_customer(api)
    open_customer_account(engine, customer["id"], PASSWORD)
    browser = PageClient(api)  # the test transport's client address, 127.0.0.1
    await browser.open()
    for i in range(PER_ADDRESS // 2):
        wrong_token = await browser.post("/login", {"kind": "staff", "token": f"bad-token-{i}"})
        assert wrong_token.status_code == 401
        other_account = await _sign_in(browser, f"nobody-{i}@example.com", "whatever-1")
        assert other_account.status_code == 401
    # The address is locked: neither the admin token nor a customer's right password gets in.
    admin = await browser.post("/login", {"kind": "staff", "token": ADMIN_TOKEN})
    assert admin.status_code == 429 and int(admin.headers["retry-after"]) >= 1
    assert (await _sign_in(browser, customer["email"], PASSWORD)).status_code == 429
    address = _throttle(engine, "address:127.0.0.1")
    assert address is not None and address.failures == PER_ADDRESS
    await browser.aclose()

    # Another address is not affected.
    elsewhere = httpx.ASGITransport(app=api._transport.app, client=("198.51.100.7", 40000))
    other = PageClient(api)
    await other.http.aclose()
    other.http = httpx.AsyncClient(transport=elsewhere, base_url=str(api.base_url), timeout=60)
    await other.open()
    signed_in = await other.post("/login", {"kind": "staff", "token": ADMIN_TOKEN})
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/inbox"
    await other.aclose()


async def test_an_old_cost_hash_is_rehashed_at_sign_in(
    api: httpx.AsyncClient, engine: Engine
) -> None:
    customer = await create_customer(api)
    cheap = security.hash_password(PASSWORD, iterations=200_000)  # the cost used until now
    with session_scope(engine) as session:
        row = customer_service.get(session=session, customer_id=customer["id"])
        assert row is not None
        row.password_hash = cheap
        session.add(row)
    browser = PageClient(api)
    await browser.open()
    wrong = await _sign_in(browser, customer["email"], "not-it-at-all")
    assert wrong.status_code == 401
    assert _stored_hash(engine, customer["id"]) == cheap  # a failed sign-in changes nothing
    signed_in = await _sign_in(browser, customer["email"], PASSWORD)
    assert signed_in.status_code == 303
    rehashed = _stored_hash(engine, customer["id"])
    assert rehashed.startswith(f"pbkdf2${security.PASSWORD_ITERATIONS}$") and rehashed != cheap
    assert not security.password_needs_rehash(rehashed)
    await browser.aclose()
    # The new hash opens the account as the old one did.
    again = PageClient(api)
    await again.open()
    assert (await _sign_in(again, customer["email"], PASSWORD)).status_code == 303
    await again.aclose()


class HashWatch:
    """Samples every thread's stack: how many are inside the password hash at the same time."""

    def __init__(self) -> None:
        self.most = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        code = security._pbkdf2.__code__
        while not self._stop.is_set():
            frames = sys._current_frames().values()
            hashing = sum(1 for frame in frames if frame.f_code is code)
            self.samples += hashing > 0
            self.most = max(self.most, hashing)
            time.sleep(0.001)  # the hash itself runs without the GIL

    def __enter__(self) -> "HashWatch":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


async def test_concurrent_sign_ins_hash_one_at_a_time(api: httpx.AsyncClient) -> None:
    browser = PageClient(api)
    await browser.open()
    attempts = [_sign_in(browser, f"flood-{i}@example.com", "wrong-password") for i in range(6)]
    with HashWatch() as watch:
        answers = await asyncio.gather(*attempts)
    assert [a.status_code for a in answers] == [401] * 6
    # Six sign-ins at once, one slot (`password_hash_concurrency`): one hash at a time.
    assert watch.samples > 0 and watch.most == 1, (watch.samples, watch.most)
    await browser.aclose()


def test_password_hashes_carry_their_cost() -> None:
    assert security.PASSWORD_ITERATIONS >= 600_000
    stored = security.hash_password("s3cret-pass", iterations=1_000)
    assert stored.startswith("pbkdf2$1000$")
    assert security.verify_password("s3cret-pass", stored)
    assert not security.verify_password("s3cret-pasS", stored)
    assert security.password_needs_rehash(stored)
    assert security.hash_password("a") != security.hash_password("a")  # salted
    # Malformed or absurd stored hashes are refused (still at the cost of one normal hash).
    for broken in (None, "", "plain", "md5$1$s$d", "pbkdf2$x$s$d", "pbkdf2$999999999999$s$d"):
        started = time.perf_counter()
        assert not security.verify_password("s3cret-pass", broken)
        assert time.perf_counter() - started < 30
    with pytest.raises(ValueError):
        security.hash_password("a", iterations=10)
