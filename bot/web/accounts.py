"""Console accounts: one-time passwords, argon2 hashes, lockout and expiring sessions.

Session tokens and passwords are never stored: a session is found by the SHA-256 of its
token, a password is checked against its argon2id hash (``argon2-cffi``). Ten wrong passwords
in a row lock the account until ``python -m bot team reset-user NAME``.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, insert, select, update

from bot.i18n import LANGUAGES
from bot.storage.store import Store, utcnow
from bot.web.tables import ROLES, sessions, users

MAX_FAILED_LOGINS = 10
MIN_PASSWORD = 12

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))  # so an unknown name costs the same


class AccountError(ValueError):
    """An account command that cannot be done (unknown name, name taken, bad role or language)."""


@dataclass(frozen=True, slots=True)
class WebSession:
    token: str
    user_id: int
    name: str
    role: str
    csrf: str
    must_change: bool
    language: str | None = None  # the account's own; None: the team's (TEAM_LANGUAGE)

    @property
    def actor_key(self) -> str:
        """How the store records this person's actions (hashed in the audit log)."""
        return actor_key(self.name)

    @property
    def coordinator(self) -> bool:
        return self.role == "coordinator"


def actor_key(name: str) -> str:
    return f"web:{name}"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def one_time_password() -> str:
    return secrets.token_urlsafe(12)


class Accounts:
    """Create, check and end console accounts and sessions, in the bot's database."""

    def __init__(
        self, store: Store, *, session_hours: int = 12, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.store = store
        self.lifetime = timedelta(hours=session_hours)
        self._now = clock

    # ----------------------------------------------------------------- commands

    async def add_user(self, name: str, role: str, language: str | None = None) -> str:
        """Create an account; returns its one-time password (changed at first sign-in)."""
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        if language is not None and language not in LANGUAGES:
            raise AccountError(f"language must be one of {', '.join(LANGUAGES)}")
        if not name.strip() or len(name) > 64:
            raise AccountError("a name has 1 to 64 characters")
        password = one_time_password()
        hashed = await asyncio.to_thread(_hasher.hash, password)

        def run(conn: Connection) -> None:
            if conn.execute(select(users.c.id).where(users.c.name == name)).first():
                raise AccountError(f"there is already an account {name!r}")
            conn.execute(
                insert(users),
                {
                    "name": name,
                    "role": role,
                    "password_hash": hashed,
                    "must_change": True,
                    "failed_logins": 0,
                    "locked": False,
                    "disabled": False,
                    "created_at": self._now(),
                    "language": language,
                },
            )

        await self.store.execute(run)
        await self.store.audit(None, "web_user_added", None, {"role": role, "language": language})
        return password

    async def reset_user(self, name: str) -> str:
        """Unlock and re-enable an account with a new one-time password; ends its sessions."""
        password = one_time_password()
        hashed = await asyncio.to_thread(_hasher.hash, password)
        values = {"password_hash": hashed, "must_change": True, "failed_logins": 0}
        await self._change(name, {**values, "locked": False, "disabled": False})
        await self.store.audit(None, "web_user_reset", None, {})
        return password

    async def disable_user(self, name: str) -> None:
        """Stop an account from signing in and end its sessions."""
        await self._change(name, {"disabled": True})
        await self.store.audit(None, "web_user_disabled", None, {})

    async def _change(self, name: str, values: dict[str, object]) -> None:
        def run(conn: Connection) -> None:
            uid = conn.execute(select(users.c.id).where(users.c.name == name)).scalar()
            if uid is None:
                raise AccountError(f"there is no account {name!r}")
            conn.execute(update(users).where(users.c.id == uid).values(**values))
            conn.execute(delete(sessions).where(sessions.c.user_id == uid))

        await self.store.execute(run)

    # ----------------------------------------------------------------- signing in

    async def sign_in(self, name: str, password: str) -> WebSession | str:
        """A new session, or why not: "wrong" (name or password) or "locked"."""
        row = await self.store.execute(
            lambda c: c.execute(select(users).where(users.c.name == name)).first(), write=False
        )
        good = await asyncio.to_thread(_verify, row.password_hash if row else _DUMMY_HASH, password)
        if row is None or row.disabled:
            return "wrong"
        if row.locked:
            return "locked"
        if not good:
            return await self._failed(row.id)
        token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), self._now()

        def run(conn: Connection) -> None:
            conn.execute(
                update(users).where(users.c.id == row.id).values(failed_logins=0, last_login_at=now)
            )
            conn.execute(delete(sessions).where(sessions.c.expires_at <= now))
            conn.execute(
                insert(sessions),
                {
                    "token_hash": token_hash(token),
                    "user_id": row.id,
                    "csrf": csrf,
                    "created_at": now,
                    "expires_at": now + self.lifetime,
                },
            )

        await self.store.execute(run)
        await self.store.audit(actor_key(name), "web_sign_in", None, {})
        return WebSession(token, row.id, row.name, row.role, csrf, row.must_change, row.language)

    async def _failed(self, user_id: int) -> str:
        def run(conn: Connection) -> int:
            count = conn.execute(
                update(users)
                .where(users.c.id == user_id)
                .values(failed_logins=users.c.failed_logins + 1)
                .returning(users.c.failed_logins)
            ).scalar_one()
            if count >= MAX_FAILED_LOGINS:
                conn.execute(update(users).where(users.c.id == user_id).values(locked=True))
            return int(count)

        count = await self.store.execute(run)
        if count >= MAX_FAILED_LOGINS:
            await self.store.audit(None, "web_user_locked", None, {"failed": count})
            return "locked"
        return "wrong"

    async def session(self, token: str | None) -> WebSession | None:
        """The live session of this cookie value, or None (unknown, expired, account stopped)."""
        if not token:
            return None
        stmt = (
            select(sessions.c.user_id, sessions.c.csrf, users.c.name, users.c.role)
            .add_columns(users.c.must_change, users.c.language)
            .join(users, users.c.id == sessions.c.user_id)
            .where(
                sessions.c.token_hash == token_hash(token),
                sessions.c.expires_at > self._now(),
                users.c.disabled.is_(False),
                users.c.locked.is_(False),
            )
        )
        row = await self.store.execute(lambda c: c.execute(stmt).first(), write=False)
        if row is None:
            return None
        return WebSession(
            token, row.user_id, row.name, row.role, row.csrf, row.must_change, row.language
        )

    async def sign_out(self, token: str) -> None:
        stmt = delete(sessions).where(sessions.c.token_hash == token_hash(token))
        await self.store.execute(lambda c: c.execute(stmt))

    async def set_password(self, session: WebSession, password: str) -> bool:
        """Replace the password (at least MIN_PASSWORD characters); False when too short."""
        if len(password) < MIN_PASSWORD:
            return False
        hashed = await asyncio.to_thread(_hasher.hash, password)
        stmt = (
            update(users)
            .where(users.c.id == session.user_id)
            .values(password_hash=hashed, must_change=False)
        )
        await self.store.execute(lambda c: c.execute(stmt))
        await self.store.audit(session.actor_key, "web_password_set", None, {})
        return True

    async def set_language(self, session: WebSession, language: str) -> bool:
        """Speak ``language`` to this account from now on; False when the console lacks it."""
        if language not in LANGUAGES:
            return False
        stmt = update(users).where(users.c.id == session.user_id).values(language=language)
        await self.store.execute(lambda c: c.execute(stmt))
        change = {"from": session.language, "to": language}
        await self.store.audit(session.actor_key, "web_language_set", None, change)
        return True


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False
