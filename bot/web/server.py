"""Run the console with uvicorn: alone (``python -m bot web``) or beside the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Generator

import uvicorn

from bot.config import Settings
from bot.storage.store import Store
from bot.web.accounts import Accounts
from bot.web.app import create_app

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the caller's ``stop`` event ends it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


async def run_web(settings: Settings) -> int:
    """``python -m bot web``: migrate, then serve until SIGINT or SIGTERM."""
    from bot.storage.commands import upgrade

    await upgrade(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve_web(settings, stop)
    return 0


async def serve_web(
    settings: Settings, stop: asyncio.Event, *, sock: socket.socket | None = None
) -> None:
    """Serve the console on WEB_LISTEN:WEB_PORT (or on a listening ``sock``) until ``stop``."""
    store = await Store.open(settings)
    try:
        config = uvicorn.Config(
            create_app(store, settings),
            host=settings.web_listen,
            port=settings.web_port or 8080,
            access_log=False,  # paths carry no personal data, but logs stay minimal
            server_header=False,
            log_config=None,
            lifespan="off",
        )
        server = _Server(config)
        serving = asyncio.create_task(server.serve(None if sock is None else [sock]))
        stopping = asyncio.create_task(stop.wait())
        log.info("web console on %s:%s", config.host, config.port)
        await asyncio.wait((serving, stopping), return_when=asyncio.FIRST_COMPLETED)
        server.should_exit = True
        stopping.cancel()
        await serving  # re-raises when the server could not start (port taken)
    finally:
        await store.close()


async def team_command(
    settings: Settings, command: str, name: str, role: str | None, *, language: str | None = None
) -> str:
    """``team add-user | reset-user | disable-user``: what to print."""
    store = await Store.open(settings)
    try:
        accounts = Accounts(store)
        if command == "add-user":
            password = await accounts.add_user(name, role or "viewer", language)
            return (
                f"account {name} created; one-time password (replaced at first sign-in): {password}"
            )
        if command == "reset-user":
            password = await accounts.reset_user(name)
            return f"account {name} unlocked; one-time password: {password}"
        await accounts.disable_user(name)
        return f"account {name} disabled"
    finally:
        await store.close()
