"""The read side at scale: inbox, order and monitor queries over a million tasks, on PostgreSQL.

    python -m bench.inbox [--tasks 1000000] [--orders 300000] [--database-url URL] [--reuse]
                          [--alone 20] [--concurrency 8] [--concurrent-requests 80]
                          [--api-processes 1] [--only REGEX]

Loads a dedicated database (dropped and created again, migrated with the project's migrations,
filled with COPY): employees of every role, 5,000 customers, `--orders` orders over the last
year (most completed, a few percent open, backordered or quotes) and `--tasks` tasks on them
(most completed, a few percent open, one in ten without a due time, due times on whole minutes
so that many tie), plus the trail events of the last 30 days' orders. `--reuse` keeps a loaded
database and only migrates it (to measure a new migration on the same data).

Then it starts the API (`uvicorn api.main:create_app`, as `conveyor api` runs it) on that
database, signs in an order-desk clerk and a supervisor (bearer tokens for the JSON API, a web
session for the pages) and times each query through real HTTP: `--alone` requests one after
another, then `--concurrent-requests` with `--concurrency` in flight (`--api-processes N`: N API
processes, the requests spread round-robin over them); it prints p50 and p95 per
query. Deep pages are asked both ways: `page=` (OFFSET) and the `cursor=` of row 200,000.
Temporal is not needed: none of these reads asks it (the monitor's failing-activities panel,
which does, is a separate request and left out).
"""

import argparse
import asyncio
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psycopg
from pydantic_core import PydanticUndefined
from sqlalchemy import Table

from conveyor.audit.service import Actor
from conveyor.core import temporal_server
from conveyor.core.db import make_engine, session_scope
from conveyor.core.migrate import upgrade
from conveyor.core.models import row_id
from conveyor.customer.models import Customer
from conveyor.employee import service as employee_service
from conveyor.employee.models import EmployeeCreate
from conveyor.order.enums import OrderStatus
from conveyor.order.models import OrderEvent, SalesOrder
from conveyor.task.models import Task

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/conveyor_bench_inbox"
ADMIN_TOKEN = "bench-inbox-admin-token-0123456789"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
NOW = datetime.now(UTC).replace(microsecond=0)
YEAR = timedelta(days=365)

# (step, role, share of the tasks): what the default rules make tasks of.
STEP_ROLES = [
    ("allocation", "credit", 0.15),
    ("allocation", "order_desk", 0.25),
    ("picking", "warehouse", 0.25),
    ("packing", "warehouse", 0.2),
    ("quote", "sales", 0.05),
    ("delivery", "warehouse", 0.05),
    ("collection", "accountant", 0.05),
]
STAFF = {"order_desk": 10, "warehouse": 12, "credit": 4, "sales": 6, "accountant": 2}


# ---- loading ----------------------------------------------------------------------------------


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _recreate(url: str) -> None:
    admin, name = _plain_url(url).rsplit("/", 1)
    with psycopg.connect(f"{admin}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _defaults(model: Any) -> dict[str, Any]:
    """A value for every column COPY must fill: the model's scalar default, else NULL."""
    found: dict[str, Any] = {}
    for column in model.__table__.columns:
        info = model.model_fields.get(column.name)
        default = None if info is None else info.get_default(call_default_factory=False)
        found[column.name] = None if default is PydanticUndefined else default
    return found


def _copy(conn: psycopg.Connection, model: Any, rows: Iterable[dict[str, Any]]) -> int:
    table: Table = model.__table__
    names = [c.name for c in table.columns]
    base = _defaults(model)
    count = 0
    with conn.cursor() as cursor:
        columns = ", ".join(f'"{n}"' for n in names)
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row.get(n, base[n]) for n in names])
                count += 1
    return count


@dataclass
class Staff:
    """Who the bench signs in as, and who the tasks are spread over."""

    clerk_token: str
    supervisor_token: str
    by_role: dict[str, list[tuple[int, str]]]  # role -> (employee id, e-mail)


def _staff(url: str) -> Staff:
    engine = make_engine(url)
    by_role: dict[str, list[tuple[int, str]]] = {role: [] for role in STAFF}
    tokens: dict[str, str] = {}
    with session_scope(engine) as session:
        for role, count in STAFF.items():
            for i in range(count):
                email = f"{role}{i}@bench.example"
                employee, token = employee_service.create(
                    session=session,
                    employee_in=EmployeeCreate(
                        name=f"{role} {i}", email=email, roles=[role], clearance=3
                    ),
                )
                assert employee.id is not None
                by_role[role].append((employee.id, email))
                tokens.setdefault(role, token)
        supervisor, tokens["supervisor"] = employee_service.create(
            session=session,
            employee_in=EmployeeCreate(
                name="Supervisor",
                email="supervisor@bench.example",
                roles=["supervisor", *STAFF],
                clearance=5,
            ),
        )
    engine.dispose()
    return Staff(tokens["order_desk"], tokens["supervisor"], by_role)


def _order_rows(orders: int, customers: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for i in range(1, orders + 1):
        created = NOW - YEAR + YEAR * (i / orders) - timedelta(seconds=rng.randint(0, 60))
        roll = rng.random()
        if created > NOW - timedelta(days=14) and roll < 0.5:
            status, step = rng.choice(
                [
                    (OrderStatus.OPEN, "allocation"),
                    (OrderStatus.OPEN, "picking"),
                    (OrderStatus.OPEN, "packing"),
                    (OrderStatus.OPEN, "collection"),
                    (OrderStatus.BACKORDERED, "allocation"),
                    (OrderStatus.QUOTE, "quote"),
                ]
            )
        elif roll < 0.02:
            status, step = OrderStatus.CANCELLED, None
        else:
            status, step = OrderStatus.COMPLETED, None
        total = Decimal(rng.randint(500, 500_000)) / 100
        yield {
            "id": i,
            "number": f"SO-{i:07d}",
            "channel": rng.choice(["web", "web", "sales_rep", "phone"]),
            "customer_id": rng.randint(1, customers),
            "status": status,
            "current_step": step,
            "subtotal": total,
            "total": total,
            "workflow_started": True,
            "created_by": "bench",
            "created_at": created,
            "updated_at": created,
            "completed_at": created + timedelta(days=2) if status == "completed" else None,
        }


def _task_rows(
    tasks: int, orders: int, staff: Staff, rng: random.Random
) -> Iterator[dict[str, Any]]:
    open_from = max(1, orders - orders * 14 // 365)  # the last two weeks' orders are in flight
    weights = [share for _, _, share in STEP_ROLES]
    for i in range(1, tasks + 1):
        order_id = min(orders, max(1, round(orders * i / tasks)))
        step, role, _ = rng.choices(STEP_ROLES, weights)[0]
        people = staff.by_role[role]
        created = NOW - YEAR + YEAR * (order_id / orders) + timedelta(minutes=rng.randint(0, 600))
        due = (
            (created + timedelta(hours=rng.choice([1, 4, 8, 24]))).replace(second=0)
            if rng.random() < 0.9
            else None
        )
        row: dict[str, Any] = {
            "id": i,
            "key": f"bench:{i}",
            "order_id": order_id,
            "order_number": f"SO-{order_id:07d}",
            "step": step,
            "role": role,
            "created_at": created,
            "due_at": due,
        }
        in_flight = order_id >= open_from and rng.random() < 0.75
        if in_flight:  # open: most held by someone, the rest in the role's pool
            row["status"] = "open"
            if rng.random() < 0.7:
                row["assignee_id"], _ = rng.choice(people)
                row["assigned_at"] = created
        elif rng.random() < 0.03:
            row["status"] = "cancelled"
        else:
            holder, email = rng.choice(people)
            finished = created + timedelta(minutes=rng.randint(5, 2000))
            row |= {
                "status": "completed",
                "assignee_id": holder,
                "assigned_at": created,
                "outcome": "done",
                "completed_at": min(finished, NOW),
                "completed_by": email,
            }
        yield row


def _event_rows(orders: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    first = max(1, orders - orders * 30 // 365)
    ids = iter(range(1, 100 * orders))
    for order_id in range(first, orders + 1):
        at = NOW - YEAR + YEAR * (order_id / orders)
        for step in ("allocation", "picking", "packing"):
            yield {
                "id": next(ids),
                "key": f"bench:{order_id}:{step}:s",
                "order_id": order_id,
                "step": step,
                "kind": "step_started",
                "at": at,
            }
            took = rng.randint(30, 4 * 3600)
            at += timedelta(seconds=took)
            if at > NOW:
                break
            yield {
                "id": next(ids),
                "key": f"bench:{order_id}:{step}:c",
                "order_id": order_id,
                "step": step,
                "kind": "step_completed",
                "at": at,
                "seconds": float(took),  # as the trail writes it
            }


def load(url: str, *, tasks: int, orders: int) -> Staff:
    """A fresh database with the bench's data; the staff who use it."""
    rng = random.Random(16)
    started = time.perf_counter()
    _recreate(url)
    upgrade(url)
    staff = _staff(url)
    customers = 5000
    with psycopg.connect(_plain_url(url)) as conn:
        _copy(
            conn,
            Customer,
            (
                {
                    "id": i,
                    "name": f"Customer {i}",
                    "email": f"customer{i}@bench.example",
                    "created_at": NOW - YEAR,
                }
                for i in range(1, customers + 1)
            ),
        )
        _copy(conn, SalesOrder, _order_rows(orders, customers, rng))
        _copy(conn, Task, _task_rows(tasks, orders, staff, rng))
        _copy(conn, OrderEvent, _event_rows(orders, rng))
        for table in ("customer", "salesorder", "task", "orderevent"):
            conn.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(_plain_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(
        f"loaded {tasks:,} tasks, {orders:,} orders in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return staff


def fresh_tokens(url: str) -> Staff:
    """Tokens for the clerk and the supervisor of a database loaded before (--reuse)."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        clerk = employee_service.get_by_email(session=session, email="order_desk0@bench.example")
        boss = employee_service.get_by_email(session=session, email="supervisor@bench.example")
        assert clerk is not None and boss is not None, "nothing loaded: run without --reuse"
        tokens = [
            employee_service.issue_token(
                session=session,
                employee_id=row_id(person),
                name="bench",
                expires_in_days=1,
                actor=Actor.cli("bench"),
            )[1]
            for person in (clerk, boss)
        ]
    engine.dispose()
    return Staff(tokens[0], tokens[1], {})


# ---- measuring ----------------------------------------------------------------------------------


@dataclass
class Query:
    name: str
    who: str  # clerk | supervisor
    path: str
    page: bool = False  # a staff page (web session), not the JSON API


QUERIES = [
    Query("tasks mine (clerk)", "clerk", "/api/tasks?scope=mine"),
    Query("tasks mine by due (clerk)", "clerk", "/api/tasks?scope=mine&sort=due"),
    Query("tasks pool (clerk)", "clerk", "/api/tasks?scope=pool&sort=due"),
    Query("tasks all by due (supervisor)", "supervisor", "/api/tasks?scope=all&sort=due"),
    Query("tasks overdue (supervisor)", "supervisor", "/api/tasks?overdue=true&sort=due"),
    Query("tasks completed, newest", "supervisor", "/api/tasks?status=completed&sort=-created"),
    Query(
        "tasks completed, page 2,000",
        "supervisor",
        "/api/tasks?status=completed&sort=-created&page=2000",
    ),
    Query(
        "tasks completed, cursor at 200k",
        "supervisor",
        "/api/tasks?status=completed&sort=-created&cursor={tasks_cursor}",
    ),
    Query("inbox page (clerk)", "clerk", "/inbox", page=True),
    Query("inbox page all by due (sup.)", "supervisor", "/inbox?scope=all&sort=due", page=True),
    Query("orders", "supervisor", "/api/orders"),
    Query("orders status=open", "supervisor", "/api/orders?status=open"),
    Query("orders page 4,000", "supervisor", "/api/orders?page=4000"),
    Query("orders, cursor at 200k", "supervisor", "/api/orders?cursor={orders_cursor}"),
    Query("orders page (list)", "supervisor", "/orders", page=True),
    Query("orders page backordered", "supervisor", "/orders?status=backordered", page=True),
    Query("monitor page", "supervisor", "/monitor", page=True),
    Query("monitor live", "supervisor", "/monitor/live", page=True),
    Query("reports page (30 days)", "supervisor", "/reports", page=True),
]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-len(ordered) * p // 100) - 1))]


async def _page_client(base: str, token: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=120)
    login = await client.get("/login")
    found = CSRF.search(login.text)
    assert found, login.text[:500]
    answer = await client.post(
        "/login", data={"csrf_token": found.group(1), "kind": "staff", "token": token}
    )
    assert answer.status_code == 303, answer.text[:500]
    return client


async def _measure(
    clients: list[httpx.AsyncClient], path: str, *, requests: int, concurrency: int
) -> list[float]:
    """Latencies of `requests` GETs of `path`, `concurrency` in flight, spread round-robin over
    the clients (one per API process, as a load balancer would)."""
    latencies: list[float] = []
    remaining = requests

    async def one_worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            client = clients[remaining % len(clients)]
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, (path, response.status_code, response.text[:300])

    await asyncio.gather(*(one_worker() for _ in range(concurrency)))
    return latencies


async def measure(bases: list[str], staff: Staff, args: argparse.Namespace) -> list[tuple]:
    """Each query alone, then `concurrency` at a time: (name, p50, p95, p50, p95) in ms."""
    tokens = {"clerk": staff.clerk_token, "supervisor": staff.supervisor_token}
    api = {
        who: [
            httpx.AsyncClient(
                base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}
            )
            for base in bases
        ]
        for who, token in tokens.items()
    }
    pages = {
        who: [await _page_client(base, token) for base in bases] for who, token in tokens.items()
    }
    # The cursor after row 200,000, as a client paging that deep holds it (asked once by OFFSET).
    boss = api["supervisor"][0]
    cursors = {
        "tasks_cursor": (
            await boss.get("/api/tasks?status=completed&sort=-created&page=200000&page_size=1")
        )
        .json()
        .get("next_cursor"),
        "orders_cursor": (await boss.get("/api/orders?page=200000&page_size=1"))
        .json()
        .get("next_cursor"),
    }
    chosen = [q for q in QUERIES if not args.only or re.search(args.only, q.name)]
    results = []
    for query in chosen:
        clients = (pages if query.page else api)[query.who]
        if "{" in query.path and None in cursors.values():
            print(f"{query.name:<32} (no cursors in this version)")
            continue
        path = query.path.format(**cursors)
        await _measure(clients, path, requests=3 * len(clients), concurrency=1)  # warm up
        alone = await _measure(clients, path, requests=args.alone, concurrency=1)
        together = await _measure(
            clients, path, requests=args.concurrent_requests, concurrency=args.concurrency
        )
        row = (
            query.name,
            _pct(alone, 50) * 1000,
            _pct(alone, 95) * 1000,
            _pct(together, 50) * 1000,
            _pct(together, 95) * 1000,
        )
        print(f"{row[0]:<32} {row[1]:>8.1f} {row[2]:>8.1f} {row[3]:>9.1f} {row[4]:>9.1f}")
        results.append(row)
    for clients in (*api.values(), *pages.values()):
        for client in clients:
            await client.aclose()
    return results


def _start_api(url: str, port: int) -> subprocess.Popen:
    env = os.environ | {
        "CONVEYOR_DATABASE_URL": url,
        "CONVEYOR_ADMIN_TOKEN": ADMIN_TOKEN,
        # Nothing measured here asks Temporal; an address where nothing listens keeps it so.
        "CONVEYOR_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_server.free_port()}",
        "CONVEYOR_DATA_DIR": str(Path(".data") / "bench-inbox"),
    }
    command = [sys.executable, "-m", "uvicorn", "api.main:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("the API did not start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=300_000)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--reuse", action="store_true", help="keep the loaded data, migrate only")
    parser.add_argument("--alone", type=int, default=20, help="requests one at a time")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--concurrent-requests", type=int, default=80)
    parser.add_argument("--only", default="", help="a regex: the queries whose name matches")
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="`conveyor api` processes, the requests spread round-robin over them",
    )
    args = parser.parse_args()
    if not args.database_url.startswith("postgresql"):
        raise SystemExit("bench.inbox measures PostgreSQL: --database-url postgresql+psycopg://")
    if args.reuse:
        upgrade(args.database_url)
        with psycopg.connect(_plain_url(args.database_url), autocommit=True) as conn:
            conn.execute("ANALYZE")
        staff = fresh_tokens(args.database_url)
    else:
        staff = load(args.database_url, tasks=args.tasks, orders=args.orders)
    ports = [temporal_server.free_port() for _ in range(args.api_processes)]
    apis = [_start_api(args.database_url, port) for port in ports]
    try:
        print(f"\n{len(apis)} API process(es)")
        print(f"{'query':<32} {'alone p50':>8} {'p95':>8} {'x8 p50':>9} {'p95':>9}  (ms)")
        asyncio.run(measure([f"http://127.0.0.1:{port}" for port in ports], staff, args))
    finally:
        for api in apis:
            api.terminate()
            api.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
