"""`conveyor` command: dev, api, worker, migrate, seed-demo, mail-sink, export, rules check."""

import argparse
import asyncio
import logging
import sys
from datetime import date
from pathlib import Path

from conveyor.core.settings import settings


def _cmd_dev(_: argparse.Namespace) -> int:
    from conveyor.cli.dev import run_dev

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
    from conveyor.core.migrate import upgrade

    upgrade(settings.effective_database_url)
    print(f"database at {_safe_url(settings.effective_database_url)} is up to date")
    return 0


def _cmd_seed_demo(_: argparse.Namespace) -> int:
    from conveyor.core.db import make_engine
    from conveyor.demo.seed import is_seeded, seed

    engine = make_engine(settings.effective_database_url)
    if is_seeded(engine):
        print("the database already has data; demo data not added")
        return 0
    accounts = seed(engine, settings.data_dir / "demo-accounts.json")
    for account in accounts:
        print(f"{account['email']:<28} {','.join(account['roles']):<20} token {account['token']}")
    return 0


def _cmd_mail_sink(args: argparse.Namespace) -> int:
    from conveyor.notification.mail_sink import serve_forever

    folder = Path(args.folder) if args.folder else settings.data_dir / "mail"
    serve_forever(folder, host=settings.smtp_host, port=args.port or settings.smtp_port)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from conveyor.accounting import mapping as account_mapping
    from conveyor.accounting import service as accounting_service
    from conveyor.core.db import make_engine, session_scope

    if args.to < args.from_:
        print("conveyor export: --to is before --from", file=sys.stderr)
        return 2
    try:
        mapping = account_mapping.load(
            Path(args.mapping) if args.mapping else settings.accounting_map_file
        )
    except account_mapping.AccountMapError as exc:
        print(f"conveyor export: account mapping: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.effective_database_url, read_only=True)
    with session_scope(engine) as session:
        postings = accounting_service.journal(
            session=session, start=args.from_, end=args.to, mapping=mapping
        )
    engine.dispose()
    text = accounting_service.to_csv(postings)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8", newline="")
        print(f"{len(postings)} journal rows written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from exc


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
    export = sub.add_parser(
        "export", help="accounting journal (invoices, credit notes, payments) as CSV"
    )
    export.add_argument("--from", dest="from_", type=_iso_date, required=True, help="first day")
    export.add_argument("--to", type=_iso_date, required=True, help="last day (inclusive)")
    export.add_argument("--out", default=None, help="file to write (default: standard output)")
    export.add_argument(
        "--mapping", default=None, help="account mapping YAML (CONVEYOR_ACCOUNTING_MAP_FILE)"
    )
    export.set_defaults(func=_cmd_export)
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
