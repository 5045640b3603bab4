"""`conveyor` command: dev, api, worker, migrate, seed-demo, mail-sink, rules check."""

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from core.settings import settings


def _cmd_dev(_: argparse.Namespace) -> int:
    from cli.dev import run_dev

    return run_dev(settings)


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host or settings.http_host,
        port=args.port or settings.http_port,
        log_level="info",
    )
    return 0


def _cmd_worker(_: argparse.Namespace) -> int:
    from worker import run_worker

    try:
        asyncio.run(run_worker(settings))
    except KeyboardInterrupt:
        pass
    return 0


def _cmd_migrate(_: argparse.Namespace) -> int:
    from core.migrate import upgrade

    upgrade(settings.effective_database_url)
    print(f"database at {_safe_url(settings.effective_database_url)} is up to date")
    return 0


def _cmd_seed_demo(_: argparse.Namespace) -> int:
    from core.db import make_engine
    from demo.seed import is_seeded, seed

    engine = make_engine(settings.effective_database_url)
    if is_seeded(engine):
        print("the database already has data; demo data not added")
        return 0
    accounts = seed(engine, settings.data_dir / "demo-accounts.json")
    for account in accounts:
        print(f"{account['email']:<28} {','.join(account['roles']):<20} token {account['token']}")
    return 0


def _cmd_mail_sink(args: argparse.Namespace) -> int:
    from notification.mail_sink import serve_forever

    folder = Path(args.folder) if args.folder else settings.data_dir / "mail"
    serve_forever(folder, host=settings.smtp_host, port=args.port or settings.smtp_port)
    return 0


def _cmd_rules_check(args: argparse.Namespace) -> int:
    from routing_rules.loader import check_file

    failed = False
    for path in args.files:
        errors = check_file(Path(path))
        for error in errors:
            print(error)
        failed = failed or bool(errors)
        if not errors:
            print(f"{path}: ok")
    return 1 if failed else 0


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="conveyor", description="Sales-order fulfillment as durable workflows."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "dev", help="start Temporal dev server, migrations, demo data, worker and API together"
    ).set_defaults(func=_cmd_dev)
    api = sub.add_parser("api", help="run the HTTP API (uvicorn)")
    api.add_argument("--host", default=None, help="bind address (CONVEYOR_HTTP_HOST)")
    api.add_argument("--port", type=int, default=None, help="port (CONVEYOR_HTTP_PORT)")
    api.set_defaults(func=_cmd_api)
    sub.add_parser("worker", help="run a Temporal worker").set_defaults(func=_cmd_worker)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=_cmd_migrate)
    sub.add_parser("seed-demo", help="add demo data to an empty database").set_defaults(
        func=_cmd_seed_demo
    )
    sink = sub.add_parser(
        "mail-sink", help="a local SMTP server that keeps every mail as a .eml file (dev)"
    )
    sink.add_argument("--port", type=int, default=None, help="port (CONVEYOR_SMTP_PORT)")
    sink.add_argument("--folder", default=None, help="where mails go (default: DATA_DIR/mail)")
    sink.set_defaults(func=_cmd_mail_sink)
    rules = sub.add_parser("rules", help="routing rule tools")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="validate rule files; errors name file and line")
    check.add_argument("files", nargs="+", help="YAML rule files")
    check.set_defaults(func=_cmd_rules_check)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `conveyor` console script."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
