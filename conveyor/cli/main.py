"""`conveyor` command: dev, api, worker, migrate, seed-demo, mail-sink, export, rules check,
backup, restore, token."""

import argparse
import asyncio
import logging
import signal
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from conveyor.core.logs import configure_logging
from conveyor.core.settings import settings


def _cmd_dev(_: argparse.Namespace) -> int:
    from conveyor.cli.dev import run_dev

    return run_dev(settings)


def _cmd_api(args: argparse.Namespace) -> int:
    import uvicorn

    # SIGTERM: uvicorn stops accepting connections, gives the requests in flight up to
    # `shutdown_grace_seconds`, runs the app's shutdown, then raises the signal again; this
    # handler turns that into a clean exit (status 0), as it does for one caught before uvicorn
    # took over.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=args.host or settings.http_host,
        port=args.port or settings.http_port,
        log_level="info",
        timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        # JSON logs: uvicorn's records go through the root logger's JSON handler (main()).
        **({"log_config": None} if settings.log_format == "json" else {}),
    )
    return 0


def _exit_cleanly(*_: object) -> None:
    raise SystemExit(0)


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
        roles = ",".join(account["roles"])
        print(
            f"{account['email']:<28} {roles:<20} password {account['password']:<16} "
            f"token {account['token']}"
        )
    return 0


def _cmd_mail_sink(args: argparse.Namespace) -> int:
    from conveyor.notification.mail_sink import serve_forever

    folder = Path(args.folder) if args.folder else settings.mail_sink_dir
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


def _cmd_token(args: argparse.Namespace) -> int:
    """`conveyor token issue|rotate|revoke|list EMAIL`: an employee's bearer tokens."""
    from conveyor.audit.service import Actor
    from conveyor.core.db import make_engine, session_scope
    from conveyor.core.errors import DomainError
    from conveyor.employee import service as employee_service

    engine = make_engine(settings.effective_database_url)
    actor = Actor.cli()
    try:
        with session_scope(engine) as session:
            employee = employee_service.get_by_email(session=session, email=args.email)
            if employee is None or employee.id is None:
                print(f"conveyor token: no employee with e-mail {args.email}", file=sys.stderr)
                return 2
            days = getattr(args, "expires_in_days", None) or settings.token_ttl_days
            if args.token_command == "issue":
                row, token = employee_service.issue_token(
                    session=session,
                    employee_id=employee.id,
                    name=args.name,
                    expires_in_days=days,
                    actor=actor,
                )
                print(
                    f"token {row.id} ({row.name}) of {employee.email}, {_expiry(row)}:",
                    file=sys.stderr,
                )
                print(token)
            elif args.token_command == "rotate":
                row, token = employee_service.rotate_token(
                    session=session,
                    employee_id=employee.id,
                    token_id=args.id,
                    expires_in_days=days,
                    actor=actor,
                )
                print(
                    f"token {args.id} revoked; its replacement {row.id} ({row.name}), "
                    f"{_expiry(row)}:",
                    file=sys.stderr,
                )
                print(token)
            elif args.token_command == "revoke":
                ids = (
                    [args.id]
                    if args.id is not None
                    else [
                        t.id
                        for t in employee_service.list_tokens(
                            session=session, employee_id=employee.id
                        )
                        if t.revoked_at is None and t.id is not None
                    ]
                )
                for token_id in ids:
                    employee_service.revoke_token(
                        session=session, employee_id=employee.id, token_id=token_id, actor=actor
                    )
                print(f"{len(ids)} token(s) of {employee.email} revoked")
            else:
                rows = employee_service.list_tokens(session=session, employee_id=employee.id)
                print(f"{'id':>5}  {'name':<20} {'created':<17} {'state':<30} last used")
                for row in rows:
                    print(
                        f"{row.id:>5}  {row.name[:20]:<20} {_when(row.created_at):<17} "
                        f"{_token_state(row):<30} {_when(row.last_used_at)}"
                    )
    except DomainError as exc:
        print(f"conveyor token: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    return 0


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "—"


def _expiry(row: Any) -> str:
    return f"expires {_when(row.expires_at)} UTC" if row.expires_at else "no expiry"


def _token_state(row: Any) -> str:
    from conveyor.core.models import utcnow

    if row.revoked_at is not None:
        return f"revoked {_when(row.revoked_at)}"
    if row.expires_at is not None and row.expires_at <= utcnow():
        return f"expired {_when(row.expires_at)}"
    return f"live, {_expiry(row)}"


def _iso_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value}") from exc


def _cmd_backup(args: argparse.Namespace) -> int:
    """`conveyor backup DIR`: the business database and Temporal's, copied online (SQLite)."""
    from conveyor.backup import service as backup_service

    try:
        backup_service.backup(settings, Path(args.dir), force=args.force, report=_say)
    except backup_service.BackupError as exc:
        print(f"conveyor backup: {exc}", file=sys.stderr)
        return 2
    return 0


def _cmd_restore(args: argparse.Namespace) -> int:
    """`conveyor restore DIR`: a backup's databases in place of the data folder's."""
    from conveyor.backup import service as backup_service

    try:
        backup_service.restore(settings, Path(args.dir), force=args.force, report=_say)
    except backup_service.BackupError as exc:
        print(f"conveyor restore: {exc}", file=sys.stderr)
        return 2
    return 0


def _say(line: str) -> None:
    print(line, flush=True)


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
    backup = sub.add_parser(
        "backup", help="copy the SQLite database and Temporal's into DIR while orders run"
    )
    backup.add_argument("dir", help="an empty folder (made if missing)")
    backup.add_argument("--force", action="store_true", help="write into a folder with files")
    backup.set_defaults(func=_cmd_backup)
    restore = sub.add_parser(
        "restore", help="put a backup's databases in CONVEYOR_DATA_DIR (everything stopped)"
    )
    restore.add_argument("dir", help="the folder `conveyor backup` wrote")
    restore.add_argument(
        "--force", action="store_true", help="replace the databases the data folder has"
    )
    restore.set_defaults(func=_cmd_restore)
    token = sub.add_parser("token", help="an employee's bearer tokens: issue, rotate, revoke, list")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    issue = token_sub.add_parser("issue", help="a new token (printed once; only its hash is kept)")
    issue.add_argument("email", help="the employee's e-mail")
    issue.add_argument("--name", default="cli", help="a label for the token (default: cli)")
    issue.add_argument(
        "--expires-in-days",
        type=_positive,
        default=None,
        help="lifetime in days (default: CONVEYOR_TOKEN_TTL_DAYS; unset: until revoked)",
    )
    rotate = token_sub.add_parser("rotate", help="replace a token: issue a new one, revoke it")
    rotate.add_argument("email", help="the employee's e-mail")
    rotate.add_argument("--id", type=int, required=True, help="the token to replace")
    rotate.add_argument(
        "--expires-in-days", type=_positive, default=None, help="the replacement's lifetime"
    )
    revoke = token_sub.add_parser("revoke", help="end one token (--id) or all of them (--all)")
    revoke.add_argument("email", help="the employee's e-mail")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=int, default=None, help="the token (see `token list`)")
    which.add_argument("--all", action="store_true", help="every live token of the employee")
    listing = token_sub.add_parser("list", help="the employee's tokens, without their secrets")
    listing.add_argument("email", help="the employee's e-mail")
    for command in (issue, rotate, revoke, listing):
        command.set_defaults(func=_cmd_token)
    return parser


def _positive(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise argparse.ArgumentTypeError(f"not a number of days (1..3650): {value}")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `conveyor` console script."""
    configure_logging(settings.log_format)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
