"""The ``carehub`` command: serve, migrate, schema, user, admin (verify, import-rpps)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from typing import Any

from server.settings import Settings, SettingsError

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carehub", description="carehub messaging hub")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server (uvicorn)")
    serve.add_argument("--db", help="database URL (default: SQLite file carehub.db)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--redis", help="Redis URL: several nodes share it (default: one node)")
    serve.add_argument("--node-id", help="this node's name in Redis (default: host-port)")
    serve.add_argument("--no-migrate", dest="migrate", action="store_false", default=None)
    serve.add_argument("--log-level", default="info")

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.add_argument("--db")

    commands.add_parser("schema", help="print the JSON Schema of the wire protocol")

    user = commands.add_parser("user", help="create a user of any role (admin task)")
    user.add_argument("--db")
    user.add_argument("username")
    user.add_argument("--name", required=True)
    user.add_argument(
        "--role", required=True, choices=["patient", "practitioner", "assistant", "bot", "admin"]
    )
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    admin = commands.add_parser("admin", help="admin tasks")
    tasks = admin.add_subparsers(dest="task", required=True)
    verify = tasks.add_parser("verify", help="verify a practitioner's account")
    verify.add_argument("username")
    verify.add_argument("--rpps", help="their number in the imported directory (checked)")
    verify.add_argument("--db")
    directory = tasks.add_parser(
        "import-rpps", help="import the directory of health professionals (RPPS extract)"
    )
    directory.add_argument("file", help="PS_LibreAcces_Personne_activite_*.txt, as published")
    directory.add_argument(
        "--prune", action="store_true", help="remove the unlisted even if they are many"
    )
    directory.add_argument("--db")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.load(
            {
                k: getattr(args, k, None)
                for k in ("db", "host", "port", "migrate", "redis", "node_id")
            }
        )
    except SettingsError as exc:
        print(f"carehub: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(settings, args.log_level)
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print(f"schema up to date: {settings.db}")
        return 0
    if args.command == "schema":
        from protocol.schema import json_schema

        json.dump(json_schema(), sys.stdout, indent=2)
        print()
        return 0
    if args.command == "admin" and args.task == "import-rpps":
        return asyncio.run(_import_rpps(settings, args.file, args.prune))
    if args.command == "admin":
        return asyncio.run(_verify(settings, args.username, args.rpps))
    return asyncio.run(_create_user(settings, args))


# Connections waiting to be accepted. Linux caps it at net.core.somaxconn
# (4096 by default): devices reconnecting together after an outage or a
# restart are queued instead of having their SYNs dropped (each drop costs
# the client a retransmission, 1 s then 3 s then 7 s).
LISTEN_BACKLOG = 4096
PRUNE_SHARE = 0.1  # an import removes up to this share of the directory unasked


def _serve(settings: Settings, log_level: str) -> int:
    import uvicorn

    from server.app import create_app
    from server.gc_tuning import tune_gc
    from server.serving import ClientFaults, DrainingServer

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(settings)
    tune_gc()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        ws_max_size=settings.ws_max_bytes,
        ws_ping_interval=None,  # the protocol has its own heartbeat
        # Frames are mostly ciphertext, which does not compress, and a
        # browser's deflate context costs the server 33.5 KiB a link.
        ws_per_message_deflate=False,
        backlog=LISTEN_BACKLOG,
        timeout_graceful_shutdown=10,
    )
    logging.getLogger("uvicorn.error").addFilter(ClientFaults())  # after uvicorn's log config
    DrainingServer(config, app.state.lifecycle, settings.drain_seconds).run()
    return 0


async def _migrate(settings: Settings) -> None:
    from storage import Store

    store = Store(settings.db)
    try:
        await store.db.migrate()
    finally:
        await store.close()


async def _create_user(settings: Settings, args: Any) -> int:
    from server.auth import Passwords
    from server.clock import Clock
    from storage import Conflict, Store

    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if not password or len(password) < 8:
        print(
            "carehub: give a password of 8+ characters on stdin (--password-stdin)", file=sys.stderr
        )
        return 2
    store = Store(settings.db)
    try:
        await store.db.migrate()
        user = await store.accounts.create_user(
            args.username, args.name, args.role, await Passwords().hash(password), Clock().ms()
        )
    except Conflict as exc:
        print(f"carehub: {exc}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    print(json.dumps({"id": user.id, "username": user.username, "role": user.role}))
    return 0


async def _verify(settings: Settings, username: str, rpps: str | None) -> int:
    from server.clock import Clock
    from server.errors import ServerError
    from server.ops.practice import checked_rpps
    from storage import Conflict, Store
    from storage.errors import Contention

    store = Store(settings.db)
    try:
        await store.db.migrate()
        found = await store.accounts.credentials(username)
        if found is None:
            print(f"carehub: no practitioner {username!r}", file=sys.stderr)
            return 1
        number = await checked_rpps(store, settings, found.user.id, rpps)
        async with store.write() as tx:
            verified_at = await tx.practices.verify(found.user.id, Clock().ms(), number)
    except (ServerError, Conflict, Contention) as refused:  # a race lost: run it again
        print(f"carehub: {refused}", file=sys.stderr)
        return 1
    finally:
        await store.close()
    if not verified_at:
        print(f"carehub: no practitioner {username!r}", file=sys.stderr)
        return 1
    print(json.dumps({"username": username, "verified_at": verified_at, "rpps": number}))
    return 0


async def _import_rpps(settings: Settings, path: str, prune: bool) -> int:
    """Stream the extract (two million lines and more) into the directory,
    then remove who it no longer lists: unless that is more than
    ``PRUNE_SHARE`` of the directory (a file cut short, the wrong file),
    which takes ``--prune``."""
    from server.clock import Clock
    from server.rpps import DirectoryError, Reading, read_directory
    from storage import Store

    store, reading, now = Store(settings.db), Reading(), Clock().ms()
    try:
        await store.db.migrate()
        with open(path, encoding="utf-8-sig", newline="") as lines:  # noqa: ASYNC230 (a one-shot command)
            professionals = await store.professionals.load(read_directory(lines, reading), now)
        stale = await store.professionals.stale(now)
        if not professionals:
            raise DirectoryError("no professional in it: the directory is left as it was")
        pruning = prune or stale <= PRUNE_SHARE * (professionals + stale)
        removed = await store.professionals.prune(now) if pruning else 0
    except (OSError, UnicodeDecodeError, DirectoryError) as failed:
        print(f"carehub: {path}: {failed}", file=sys.stderr)
        return 2
    finally:
        await store.close()
    if not pruning:
        print(
            f"carehub: {stale} professionals are no longer listed: kept (--prune removes them)",
            file=sys.stderr,
        )
    counts = {"professionals": professionals, "lines": reading.lines, "skipped": reading.skipped}
    print(json.dumps({**counts, "removed": removed, "kept": stale - removed}))
    return 0
