"""Command line: run, shell, replay, graph, qr, db, web, team, keygen, purge, rotate-key."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot.engine.errors import FlowError
from bot.i18n import LANGUAGES, CatalogError
from bot.logs import configure_logging


def _engine(flow: str, *, typed: bool = False):  # type: ignore[no-untyped-def]
    from bot.engine.engine import load_engine

    return load_engine(flow, typed=typed)


def cmd_shell(args: argparse.Namespace) -> int:
    """Chat with the flow in the terminal."""
    from bot.channels.shell import run_shell

    return run_shell(_engine(args.flow, typed=True), args.lang)


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay profile files and print one JSON line per profile."""
    from bot.channels.replay import replay_files

    lines, ok = replay_files(_engine(args.flow), [Path(p) for p in args.files])
    for line in lines:
        print(line)
    return 0 if ok else 1


def cmd_graph(args: argparse.Namespace) -> int:
    """Write the flow as Mermaid, as a web page (.html) or as SVG through Graphviz (.svg)."""
    from bot.engine.machine import FlowMachine

    machine = FlowMachine(_engine(args.flow).flow)
    if args.output and args.output.endswith(".svg"):
        dot = shutil.which("dot")
        if dot is None:
            print("error: Graphviz (dot) is not installed; write a .mmd file", file=sys.stderr)
            return 2
        command = [dot, "-Tsvg", "-o", args.output]
        subprocess.run(command, input=machine.dot(), text=True, check=True)
        print(f"wrote {args.output}", file=sys.stderr)
        return 0
    text = machine.mermaid()
    if args.output:
        path = Path(args.output)
        path.parent.mkdir(parents=True, exist_ok=True)
        page = args.output.endswith(".html")
        path.write_text(_graph_page(text) if page else text, encoding="utf-8")
        print(f"wrote {path.resolve()}" + (": open it in a web browser" if page else ""))
    else:
        sys.stdout.write(text)
    return 0


MERMAID_JS = "https://cdn.jsdelivr.net/npm/mermaid@11/dist/mermaid.min.js"


def _graph_page(mermaid: str) -> str:
    """Return a web page that draws a Mermaid diagram (its source stays readable offline)."""
    from html import escape

    return (
        '<!doctype html>\n<html><head><meta charset="utf-8"><title>flow</title></head><body>\n'
        f'<pre class="mermaid">\n{escape(mermaid)}</pre>\n'
        f'<script src="{MERMAID_JS}"></script>\n'
        "<script>mermaid.initialize({startOnLoad: true, maxEdges: 1000});</script>\n"
        "</body></html>\n"
    )


def cmd_run(args: argparse.Namespace) -> int:
    """Start Telegram, WeChat and the console as configured, otherwise the terminal chat."""
    from bot.config import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    if settings.telegram_bot_token is None and not settings.wechat_app_id:
        print("TELEGRAM_BOT_TOKEN is not set: starting the terminal chat instead.", file=sys.stderr)
        return cmd_shell(args)
    from bot.startup import run

    return run(settings)


def cmd_qr(args: argparse.Namespace) -> int:
    """Print or save the QR code of an outreach source for Telegram or WeChat."""
    from bot.channels.outreach import OutreachError, draw, link
    from bot.config import get_settings

    try:
        data = link(get_settings(), args.channel, args.source, args.lang, args.bot or "")
    except OutreachError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(data)
    drawn = draw(data, args.output)
    if drawn:
        sys.stdout.write(drawn)
    else:
        print(f"wrote {Path(args.output).resolve()}", file=sys.stderr)
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    """Serve the study team's web console alone."""
    from bot.config import get_settings
    from bot.web.server import run_web

    settings = get_settings()
    configure_logging(settings.log_level)
    return asyncio.run(run_web(settings))


def cmd_team(args: argparse.Namespace) -> int:
    """Add, reset or disable a web console account."""
    from bot.config import get_settings
    from bot.web.accounts import AccountError
    from bot.web.server import team_command

    try:
        command = team_command(
            get_settings(), args.team_command, args.name, args.role, language=args.language
        )
        print(asyncio.run(command))
    except AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    """Apply the database migrations (running them twice changes nothing)."""
    from bot.config import get_settings
    from bot.storage.commands import upgrade

    asyncio.run(upgrade(get_settings()))
    print("database is up to date", file=sys.stderr)
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    """Print a new DATA_ENCRYPTION_KEY."""
    from bot.storage.commands import keygen

    print(keygen())
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    """Delete abandoned conversations and data past retention."""
    from bot.config import get_settings
    from bot.storage.commands import purge

    counts = asyncio.run(purge(get_settings()))
    print(json.dumps(counts, sort_keys=True))
    return 0


def cmd_rotate_key(args: argparse.Namespace) -> int:
    """Re-encrypt every stored value under the newest key of DATA_ENCRYPTION_KEYS."""
    from bot.config import get_settings
    from bot.storage.commands import rotate_key

    def progress(table: str, rows: int) -> None:
        print(f"{table}: {rows} rows re-encrypted", file=sys.stderr)

    counts = asyncio.run(rotate_key(get_settings(), batch=args.batch, on_batch=progress))
    print(json.dumps(counts, sort_keys=True))
    print(
        "every value is now under the first key of DATA_ENCRYPTION_KEYS; "
        "the other keys can be removed",
        file=sys.stderr,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the command-line parser."""
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument(
        "--flow", default=os.environ.get("FLOW", "nct06751199"), help="flow id in flows/"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="start the bot (WeChat and/or Telegram, or the terminal chat without either)"
    )
    run.add_argument("--lang", default="en", help="terminal chat language when no token is set")
    run.set_defaults(func=cmd_run)

    shell = sub.add_parser("shell", help="chat with the flow in the terminal")
    shell.add_argument("--lang", default="en", help=f"language tag: {', '.join(LANGUAGES)}")
    shell.set_defaults(func=cmd_shell)

    replay = sub.add_parser("replay", help="run profile files through the engine")
    replay.add_argument("files", nargs="+", help="profile JSON files")
    replay.set_defaults(func=cmd_replay)

    graph = sub.add_parser("graph", help="write the flow as a Mermaid diagram (or SVG)")
    graph.add_argument(
        "-o", "--output", help="file: .mmd (Mermaid), .html (web page) or .svg (needs Graphviz)"
    )
    graph.set_defaults(func=cmd_graph)

    qr = sub.add_parser("qr", help="print or save an outreach QR code (Telegram or WeChat)")
    qr.add_argument("--channel", choices=("telegram", "wechat"), required=True)
    qr.add_argument("--source", required=True, help="outreach source, e.g. flyer-sh01")
    qr.add_argument("--lang", required=True, help=f"language tag: {', '.join(LANGUAGES)}")
    qr.add_argument("--bot", help="Telegram: the bot's user name")
    qr.add_argument("-o", "--output", help="save as .png or .svg instead of printing")
    qr.set_defaults(func=cmd_qr)

    db = sub.add_parser("db", help="database commands")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply the migrations").set_defaults(func=cmd_db)

    sub.add_parser("web", help="serve the study team's web console").set_defaults(func=cmd_web)
    _add_team_commands(sub.add_parser("team", help="web console accounts"))

    sub.add_parser("keygen", help="print a new DATA_ENCRYPTION_KEY").set_defaults(func=cmd_keygen)
    sub.add_parser("purge", help="delete data past retention").set_defaults(func=cmd_purge)
    rotate = sub.add_parser(
        "rotate-key", help="re-encrypt everything under the newest DATA_ENCRYPTION_KEYS key"
    )
    rotate.add_argument("--batch", type=int, default=500, help="rows per transaction")
    rotate.set_defaults(func=cmd_rotate_key)
    return parser


def _add_team_commands(team: argparse.ArgumentParser) -> None:
    """Add the web console's account commands under ``team``."""
    team_sub = team.add_subparsers(dest="team_command", required=True)
    add = team_sub.add_parser("add-user", help="create an account; prints a one-time password")
    add.add_argument("--role", choices=("coordinator", "viewer"), required=True)
    add.add_argument(
        "--language", help="the console's language for this account (default: TEAM_LANGUAGE)"
    )
    reset = team_sub.add_parser("reset-user", help="unlock; prints a new one-time password")
    disable = team_sub.add_parser("disable-user", help="stop an account signing in")
    for command in (add, reset, disable):
        command.add_argument("name")
        command.set_defaults(func=cmd_team)
    reset.set_defaults(role=None, language=None)
    disable.set_defaults(role=None, language=None)


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (FlowError, CatalogError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from bot.storage.errors import StorageError

        if not isinstance(exc, StorageError):
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
