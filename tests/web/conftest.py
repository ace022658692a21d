"""The console under test: the ASGI app over a real store (SQLite and PostgreSQL), driven
through httpx in the test's own event loop, with accounts made by ``Accounts``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.ratelimit import FloodGuard
from bot.storage import Store
from bot.web.accounts import Accounts
from bot.web.app import create_app
from bot.web.console import Console
from tests.storage import conftest as storage
from tests.storage.conftest import Clock, pg_admin

# the storage tests' fixtures, shared
backend = storage.backend
clock = storage.clock
key = storage.key
pg_server = storage.pg_server
pg_session_db = storage.pg_session_db
sqlite_template = storage.sqlite_template

_TABLES = (
    "referral_notes",
    "web_sessions",
    "web_users",
    "referral_status_history",
    "referrals",
    "outbox",
    "alert_optins",
    "contacts",
    "consents",
    "outcomes",
    "answers",
    "conversations",
    "audit_log",
    "processed_updates",
    "meta",
)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
COORDINATOR_PASSWORD = "harbour-lantern-42"


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of the test's backend."""
    if backend == "sqlite":
        import shutil

        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "trialbot.db"
        shutil.copy(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_session_db")
    asyncio.run(pg_admin(url, *(f"DELETE FROM {table}" for table in _TABLES)))
    return url


@pytest.fixture
def settings(db_url: str, key: str) -> Settings:
    return Settings(
        database_url=db_url, data_encryption_key=key, team_language="en", _env_file=None
    )


@pytest.fixture
async def store(settings: Settings, clock: Clock) -> AsyncIterator[Store]:
    opened = await Store.open(settings, clock=clock)
    try:
        yield opened
    finally:
        await opened.close()


@dataclass
class Web:
    """A browser-like client of the console, and the console behind it."""

    client: httpx.AsyncClient
    console: Console
    accounts: Accounts

    async def sign_in(self, name: str, password: str) -> httpx.Response:
        page = await self.client.get("/login")
        token = csrf_of(page)
        data = {"csrf": token, "name": name, "password": password}
        return await self.client.post("/login", data=data)

    async def coordinator(self, name: str = "li") -> None:
        """Create a coordinator, sign in with the one-time password and choose a password."""
        once = await self.accounts.add_user(name, "coordinator")
        first = await self.sign_in(name, once)
        assert first.status_code == 303 and first.headers["location"] == "/password"
        form = await self.client.get("/password")
        data = {"csrf": csrf_of(form), "password": COORDINATOR_PASSWORD}
        done = await self.client.post("/password", data=data)
        assert done.status_code == 303 and done.headers["location"] == "/"

    async def post(self, path: str, page: httpx.Response, **data: str) -> httpx.Response:
        """Submit a form of ``page`` with its CSRF token."""
        return await self.client.post(path, data={"csrf": csrf_of(page), **data})


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


def make_web(store: Store, settings: Settings, clock: Callable[[], datetime]) -> Web:
    app = create_app(store, settings, clock=clock)
    console: Console = app.state.console
    console.login_guard = FloodGuard(rate=0.1, burst=100)  # lockout tests try many passwords
    transport = httpx.ASGITransport(app=app)
    client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    return Web(client, console, console.accounts)


@pytest.fixture
async def web(store: Store, settings: Settings, clock: Clock) -> AsyncIterator[Web]:
    made = make_web(store, settings, clock)
    try:
        yield made
    finally:
        await made.client.aclose()
